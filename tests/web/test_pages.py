"""The front page, department pages and post pages over real HTTP, against real data in PostgreSQL."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import aiohttp
import asyncpg

from actors.departments import delete_department
from actors.follow_queries import upsert_follow
from actors.queries import LocalActor
from actors.remote import ActorResolver
from fedi.settings import Settings
from fedi.worker import Worker
from inbox.processing import InboxTask
from keys.keypairs import KeyVault
from outbox.posts import delete_post, pin_post, publish_post
from tests.factories import citizen, make_department
from tests.peers import PUBLIC, RemotePeer
from tests.servers import RunningInstance
from tests.web.conftest import AP, BASE, Fetch, citizen_reply


class ActiveContent(HTMLParser):
    """Collects what a browser would run: script elements, event handler attributes, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.found.append("<script>")
        for name, value in attrs:
            url = "".join((value or "").split()).lower()
            if name.startswith("on") or (name in ("href", "src", "action", "formaction") and url.startswith("javascript:")):
                self.found.append(f"<{tag} {name}={value!r}>")


def assert_inert(page: str) -> None:
    """The page would run nothing: no script element, event handler or javascript: URL in its tags."""
    parser = ActiveContent()
    parser.feed(page)
    assert parser.found == []


def position(page: str, text: str) -> int:
    """Where ``text`` is on the page (it must be there)."""
    index = page.find(text)
    assert index >= 0, text
    return index


async def test_front_page_lists_departments_by_area_and_searches(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, library: LocalActor, fetch: Fetch
) -> None:
    await make_department(conn, settings, vault, "museum", display_name="Museum of History", area="Culture")
    await make_department(conn, settings, vault, "schools", display_name="Schools", area="Education",
                          summary="Term dates and school meals.")
    await make_department(conn, settings, vault, "parks", display_name="Parks <b>& Gardens</b>")
    await make_department(conn, settings, vault, "quiet", display_name="Quiet office", discoverable=False)
    await make_department(conn, settings, vault, "closed", display_name="Closed office")
    await delete_department(conn, "closed")

    page = await fetch("/")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    text = page.text
    assert '<html lang="en">' in text and 'href="#main"' in text and '<main id="main"' in text
    assert position(text, ">Culture</h2>") < position(text, "City Library") < position(text, "Museum of History")
    assert position(text, "Museum of History") < position(text, ">Education</h2>") < position(text, ">Other departments</h2>")
    assert "Parks &lt;b&gt;&amp; Gardens&lt;/b&gt;" in text and "<b>& Gardens" not in text
    assert "Quiet office" not in text and "Closed office" not in text
    assert '<link rel="alternate" type="application/atom+xml"' in text and 'role="search"' in text

    found = await fetch("/?q=MUSE")
    assert "Museum of History" in found.text and "City Library" not in found.text and "1 department found" in found.text
    assert "Schools" in (await fetch("/?q=school%20meals")).text  # the summary is searched too
    assert ">Schools</a>" not in (await fetch("/?q=library")).text
    hostile = await fetch("/?q=%3Cscript%3Ealert(1)%3C/script%3E%25_")
    assert hostile.status == 200 and "<script>" not in hostile.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;%_" in hostile.text and "No department matches" in hostile.text


async def test_department_page_shows_profile_and_public_updates_newest_first_in_pages(
    conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: LocalActor, fetch: Fetch
) -> None:
    posts = [await publish_post(conn, resolver, settings, library, f"Notice number {n}.") for n in range(23)]
    await publish_post(conn, resolver, settings, library, "Unlisted notice", visibility="unlisted")
    await publish_post(conn, resolver, settings, library, "Followers notice", visibility="private")
    await publish_post(conn, resolver, settings, library, "Direct notice", visibility="direct")
    gone = await publish_post(conn, resolver, settings, library, "Withdrawn notice")
    await delete_post(conn, settings, gone.uri)
    await pin_post(conn, settings, posts[3].uri)
    question = await citizen_reply(conn, posts[22].uri, "<p>When do you open?</p>")
    question_uri = await conn.fetchval("SELECT uri FROM posts WHERE id = $1", question)
    await publish_post(conn, resolver, settings, library, "We open at nine.", in_reply_to=question_uri)
    for name in ("carol", "dave"):
        follower = await citizen(conn, name, "peer.test")
        await upsert_follow(conn, follower.id, library.id, f"https://peer.test/follows/{name}", "accepted")

    for path in ("/@library", "/users/library"):
        page = await fetch(path)
        assert page.status == 200 and "Accept" in page.headers["Vary"]
        text = page.text
        assert "<h1>City Library</h1>" in text and "@library@city.example" in text and "Books, reading rooms" in text
        assert "<strong>2</strong> followers" in text and "<strong>23</strong> updates" in text
        for hidden in ("Unlisted notice", "Followers notice", "Direct notice", "Withdrawn notice", "We open at nine"):
            assert hidden not in text
        assert position(text, ">Pinned</h3>") < position(text, "Notice number 3.") < position(text, "Notice number 22.")
        assert position(text, "Notice number 22.") < position(text, "Notice number 21.")
        assert "Notice number 2.</p>" not in text  # the 21st newest is on the next page
        assert '1 reply</a>' in text
    # Mastodon verifies a field's link when the page links to it with rel="me".
    assert '<a href="https://library.city.example/" rel="me nofollow noopener noreferrer">library.city.example</a>' in text
    assert '<link rel="me" href="https://library.city.example/">' in text
    assert '<link rel="alternate" type="application/activity+json" href="https://city.example/users/library">' in text
    assert '<link rel="alternate" type="application/atom+xml" title="City Library (Atom)" href="https://city.example/@library.atom">' in text
    assert 'href="https://city.example/@library.rss"' in text
    assert '<meta property="og:title" content="City Library">' in text
    assert '<meta property="og:url" content="https://city.example/@library">' in text
    next_link = re.search(r'href="/@library\?max_id=(\d+)" rel="next"', text)
    assert next_link is not None and int(next_link.group(1)) == posts[3].id

    older = await fetch(f"/@library?max_id={next_link.group(1)}")
    assert older.status == 200 and "Older updates" in older.text and 'rel="next"' not in older.text
    assert all(f"Notice number {n}." in older.text for n in range(3)) and "Notice number 3." not in older.text
    assert ">Pinned</h3>" not in older.text and "Newest updates" in older.text
    assert (await fetch("/@library?max_id=abc")).status == 400


async def test_hostile_content_is_neutralised(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, resolver: ActorResolver, fetch: Fetch
) -> None:
    parks = await make_department(conn, settings, vault, "parks", display_name="<b>Parks</b>",
                                  summary='<img src=x onerror="alert(1)">',
                                  fields=[{"name": "<i>Web</i>", "value": 'javascript:alert(1) "quoted" https://parks.example/?a=1&b=<2>'}])
    post = await publish_post(conn, resolver, settings, parks, "Mowing today <script>alert('x')</script>")
    await citizen_reply(
        conn, post.uri,
        '<p>Hi<script>alert(1)</script> <a href="javascript:alert(2)">click</a> <img src=x onerror=alert(3)>'
        '<a href="https://ok.example/" onclick="alert(4)" style="color:red">fine</a></p>',
        summary="<b>spoiler</b>", attachments=[{"type": "Document", "url": "javascript:alert(5)", "name": "bad"},
                                               {"type": "Image", "mediaType": "image/png", "url": "https://peer.test/a.png",
                                                "name": "<script>x</script>"}],
    )
    await conn.execute("UPDATE actors SET display_name = $1 WHERE uri = 'https://peer.test/users/alice'",
                       '<img src=x onerror="alert(6)">Alice')

    for path in ("/@parks", post.url or "", "/", f"/@parks/{post.published_at.date().isoformat()}"):
        page = await fetch(path)
        assert page.status == 200, path
        assert_inert(page.text)
        assert "<b>Parks</b>" not in page.text and "<img src=x" not in page.text, path
    thread = (await fetch(post.url or "")).text
    assert "&lt;b&gt;Parks&lt;/b&gt;" in thread and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in thread
    assert "onclick" not in thread and "style=" not in thread.split("</style>", 1)[1]
    assert '<a href="https://ok.example/" rel="nofollow noopener noreferrer">fine</a>' in thread
    assert "<summary>&lt;b&gt;spoiler&lt;/b&gt;</summary>" in thread
    assert "&lt;img src=x onerror=&#34;alert(6)&#34;&gt;Alice" in thread
    assert 'href="https://peer.test/a.png"' in thread and "image: &lt;script&gt;x&lt;/script&gt;" in thread
    assert '<img class="media"' not in thread  # remote media is linked, never loaded
    profile = (await fetch("/@parks")).text
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in profile and "<dt>&lt;i&gt;Web&lt;/i&gt;</dt>" in profile
    assert 'href="https://parks.example/?a=1&amp;b=" rel="me' in profile


async def test_post_page_shows_the_conversation_as_a_thread(
    conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: LocalActor, fetch: Fetch
) -> None:
    post = await publish_post(conn, resolver, settings, library, "Reading club on Thursday.", language="fr")
    first = await citizen_reply(conn, post.uri, "<p>Is it free?</p>", username="alice")
    first_uri = await conn.fetchval("SELECT uri FROM posts WHERE id = $1", first)
    answer = await publish_post(conn, resolver, settings, library, "Yes, it is free.", in_reply_to=first_uri)
    await citizen_reply(conn, answer.uri, "<p>Thanks!</p>", username="bob")
    await citizen_reply(conn, post.uri, "<p>Unlisted but shown</p>", username="erin", visibility="unlisted")
    await citizen_reply(conn, post.uri, "<p>Followers only</p>", username="carol", visibility="private")
    await citizen_reply(conn, post.uri, "<p>Just for you</p>", username="carol", visibility="direct")
    removed = await citizen_reply(conn, post.uri, "<p>Since deleted</p>", username="dave")
    await conn.execute("UPDATE posts SET deleted_at = now() WHERE id = $1", removed)
    troll = await citizen_reply(conn, post.uri, "<p>Blocked troll</p>", username="troll")
    troll_author = await conn.fetchval("SELECT author_id FROM posts WHERE id = $1", troll)
    await conn.execute("INSERT INTO blocks (uri, blocker_id, blocked_id) VALUES ('https://city.example/blocks/1', $1, $2)",
                       library.id, troll_author)

    page = await fetch(post.uri)
    assert page.status == 200 and page.headers["Link"] == f'<{post.uri}>; rel="alternate"; type="application/activity+json"'
    text = page.text
    # The page speaks English around the post, which is marked as French.
    assert '<html lang="en">' in text and '<article class="post main" lang="fr">' in text
    assert "<h1>Update from City Library</h1>" in text and "Replies (4)" in text
    assert position(text, "Is it free?") < position(text, "Yes, it is free.") < position(text, "Thanks!")
    assert position(text, "Thanks!") < position(text, "Unlisted but shown")
    nested = re.search(r"Is it free\?.*?<ol>.*?Yes, it is free\..*?<ol>.*?Thanks!.*?</ol>.*?</ol>", text, re.S)
    assert nested is not None
    for hidden in ("Followers only", "Just for you", "Since deleted", "Blocked troll"):
        assert hidden not in text
    assert '<span class="badge">Department</span>' in text and "@alice@peer.test" in text
    assert 'href="https://peer.test/@alice/1" rel="nofollow noopener noreferrer"' in text
    assert '<meta property="og:type" content="article">' in text
    assert f'<meta property="og:url" content="{post.url}">' in text
    assert '<meta property="og:description" content="Reading club on Thursday.">' in text

    reply_page = (await fetch(answer.url or "")).text
    assert "<h1>Reply from City Library</h1>" in reply_page and "Earlier in this conversation" in reply_page
    assert position(reply_page, "Reading club on Thursday.") < position(reply_page, "Is it free?")
    assert position(reply_page, "Is it free?") < position(reply_page, "Yes, it is free.</p>") < position(reply_page, "Thanks!")


async def test_missing_deleted_and_hidden_posts_and_departments(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, resolver: ActorResolver, library: LocalActor,
    fetch: Fetch,
) -> None:
    gone = await publish_post(conn, resolver, settings, library, "Soon withdrawn")
    await delete_post(conn, settings, gone.uri)
    private = await publish_post(conn, resolver, settings, library, "Followers notice", visibility="private")
    unlisted = await publish_post(conn, resolver, settings, library, "Unlisted notice", visibility="unlisted")
    await make_department(conn, settings, vault, "closed")
    await delete_department(conn, "closed")

    for path, status in ((gone.url, 410), (private.url, 404), ("/@library/999999", 404), ("/@nobody", 404),
                         ("/@closed", 410), ("/users/closed", 410), ("/@nobody/1", 404)):
        page = await fetch(path or "")
        assert page.status == status and page.headers["Content-Type"].startswith("text/html"), path
        assert "Soon withdrawn" not in page.text and "Followers notice" not in page.text
    shown = await fetch(unlisted.url or "")
    assert shown.status == 200 and "Unlisted notice" in shown.text and '<meta name="robots" content="noindex">' in shown.text


async def test_activitypub_clients_still_get_json_at_the_same_urls(
    conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: LocalActor, fetch: Fetch
) -> None:
    post = await publish_post(conn, resolver, settings, library, "Hello fediverse")
    for path in ("/users/library", "/@library"):
        page = await fetch(path, AP)
        assert page.status == 200 and page.headers["Content-Type"].startswith("application/activity+json")
        assert '"id":"https://city.example/users/library"' in page.text and '"type":"Organization"' in page.text
    for url in (post.uri, post.url or ""):
        page = await fetch(url, AP)
        assert page.status == 200 and page.headers["Content-Type"].startswith("application/activity+json")
        assert f'"id":"{post.uri}"' in page.text and '"type":"Note"' in page.text
    ld = await fetch("/@library", {"Accept": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'})
    assert ld.headers["Content-Type"].startswith("application/ld+json")
    assert (await fetch("/users/library/statuses/999999", AP)).status == 404
    assert (await fetch("/@library.atom", AP)).headers["Content-Type"].startswith("application/atom+xml")


async def test_follow_and_reply_forms_send_visitors_to_their_own_server(
    conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: LocalActor, fetch: Fetch
) -> None:
    post = await publish_post(conn, resolver, settings, library, "Question time")
    page = (await fetch("/@library")).text
    assert '<form method="get" action="/follow">' in page and '<input type="hidden" name="account" value="library">' in page
    assert '<label for="handle">' in page

    for handle in ("alex@mastodon.example", "@Alex@Mastodon.Example", " alex@mastodon.example ",
                   "https://mastodon.example/@alex"):
        moved = await fetch(f"/follow?account=library&handle={aiohttp.helpers.quote(handle)}", redirects=False)
        assert moved.status == 302, handle
        location = urlsplit(moved.headers["Location"])
        assert (location.scheme, location.netloc, location.path) == ("https", "mastodon.example", "/authorize_interaction")
        assert parse_qs(location.query) == {"uri": [f"{BASE}/users/library"]}
    moved = await fetch(f"/interact?account=library&post={post.id}&handle=alex%40social.example%3A8443", redirects=False)
    assert moved.headers["Location"] == (
        "https://social.example:8443/authorize_interaction?uri=" + aiohttp.helpers.quote(post.uri, safe="")
    )

    for handle in ("", "alex", "alex@", "@mastodon.example", "alex@evil.example/path", "alex@evil.example?x=1",
                   "javascript:alert(1)", "alex@localhost", "alex@city.example", "a@b@c.example", "<b>x</b>@a.example"):
        again = await fetch(f"/follow?account=library&handle={aiohttp.helpers.quote(handle, safe='')}", redirects=False)
        assert again.status == 400, handle
        assert 'aria-invalid="true"' in again.text and 'class="error" id="handle-error"' in again.text
        assert "<h1>City Library</h1>" in again.text and "<b>x</b>" not in again.text
    assert "&lt;b&gt;x&lt;/b&gt;@a.example" in again.text
    failed = await fetch(f"/interact?account=library&post={post.id}&handle=nobody", redirects=False)
    assert failed.status == 400 and "Question time" in failed.text and 'aria-invalid="true"' in failed.text
    assert (await fetch("/follow?account=nobody&handle=alex%40mastodon.example", redirects=False)).status == 404
    assert (await fetch("/interact?account=library&post=999999&handle=alex%40m.example", redirects=False)).status == 404


async def test_a_reply_delivered_through_the_inbox_appears_sanitized_in_the_thread(
    conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: LocalActor, fetch: Fetch,
    peer: RemotePeer, http: aiohttp.ClientSession, server: str, instance: RunningInstance,
) -> None:
    post = await publish_post(conn, resolver, settings, library, "New opening hours from Monday.")
    alice = peer.users["alice"]
    note = peer.note(alice, '<p>Great! <script>alert(1)</script><a href="javascript:void(0)">x</a></p>',
                     inReplyTo=post.uri, cc=[library.uri])
    status, _ = await peer.deliver(
        http, alice, f"{server}/users/library/inbox", peer.activity(alice, "Create", note, to=[PUBLIC]), host="city.example"
    )
    assert status == 202
    services = instance.services
    await Worker(services.pool, [InboxTask(services.pool, services.resolver, services.settings)]).run_until_idle()

    text = (await fetch(post.url or "")).text
    assert "Replies (1)" in text and "Great!" in text and f"@alice@{peer.host}" in text
    assert_inert(text)


async def test_images_of_local_posts_are_shown_and_other_attachments_linked(
    conn: asyncpg.Connection, settings: Settings, resolver: ActorResolver, library: LocalActor, fetch: Fetch
) -> None:
    post = await publish_post(conn, resolver, settings, library, "Our new reading room")
    media = [
        {"type": "Document", "mediaType": "image/jpeg", "url": f"{BASE}/media/room.jpg", "name": "Sofas by a window"},
        {"type": "Document", "mediaType": "image/png", "url": "https://elsewhere.example/x.png", "name": None},
        {"type": "Document", "mediaType": "application/pdf", "url": f"{BASE}/media/plan.pdf", "name": "Floor plan"},
    ]
    await conn.execute("UPDATE posts SET attachments = $2 WHERE id = $1", post.id, media)
    page = (await fetch(post.url or "")).text
    assert f'<img class="media" src="{BASE}/media/room.jpg" alt="Sofas by a window" loading="lazy">' in page
    assert '<a href="https://elsewhere.example/x.png" rel="nofollow noopener noreferrer">Attachment (image)</a>' in page
    assert f'<a href="{BASE}/media/plan.pdf" rel="nofollow noopener noreferrer">Attachment (application: Floor plan)</a>' in page
    assert 'src="https://elsewhere.example' not in page
    feed = (await fetch("/@library.atom")).text
    assert f'&lt;img src="{BASE}/media/room.jpg" alt="Sofas by a window"&gt;' in feed
