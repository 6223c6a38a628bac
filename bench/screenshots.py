"""Screenshots of the public pages at phone and desktop widths, from a server filled with demo data.

    .venv/bin/python bench/screenshots.py [--out bench/out] [--chromium /usr/bin/chromium]

Starts an embedded PostgreSQL in a temporary directory, fills it with a few departments, their
updates over the last weeks, citizens' replies, answers and follows, serves the app on a loopback
port (no worker, so nothing is delivered anywhere) and has headless Chromium photograph the front
page, a department page, a post with its thread, a department's calendar and ``/transparency`` at
375 and 1280 pixels wide.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import uvicorn

from actors.departments import create_department
from actors.follow_queries import upsert_follow
from actors.queries import LocalActor
from actors.remote import ActorResolver
from actors.remote_documents import parse_actor
from actors.remote_queries import upsert_remote_actor
from actors.validation import department_input
from fedi.app import create_app
from fedi.assembly import open_services
from fedi.database import connect
from fedi.embedded import start_embedded_postgres
from fedi.migrate import migrate
from fedi.settings import Settings, load_settings
from inbox.queries import RemotePost, insert_remote_post
from keys.keypairs import KeyVault
from outbox.posts import publish_post

SECRET = "screenshots-secret-" + "s" * 40
WIDTHS = (375, 1280)
HEIGHTS = {375: 2400, 1280: 1800}
DEPARTMENTS = {
    "library": {"display_name": "City Library", "area": "Culture", "summary": "Books, reading rooms, events for all ages.",
                "fields": [{"name": "Website", "value": "https://library.city.example/"},
                           {"name": "Opening hours", "value": "Mon-Fri 9-19, Sat 10-16"}]},
    "museum": {"display_name": "Museum of City History", "area": "Culture", "summary": "Exhibitions and collections."},
    "schools": {"display_name": "Schools Department", "area": "Education",
                "summary": "Term dates, school meals, enrolment."},
    "parks": {"display_name": "Parks & Gardens", "area": "Environment", "summary": "Mowing, planting and playgrounds."},
}
UPDATES = (
    "The reading room on the second floor reopens today after the new shelving was installed.",
    "Story time for children at 10:00 this Saturday: this week, stories about the sea.",
    "We repaired the self-service return machine; returns work again at the main entrance.",
    "New this week: 120 books in Ukrainian and Arabic in the languages corner.",
    "The café area is closed on Friday morning for cleaning.",
)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def citizen_reply(conn: asyncpg.Connection, parent_uri: str, name: str, text: str, when: datetime) -> str:
    """Store a citizen's reply as the inbox would; return its id."""
    uri = f"https://social.example/users/{name}"
    author = await upsert_remote_actor(conn, parse_actor({
        "id": uri, "type": "Person", "preferredUsername": name, "name": name.capitalize(), "inbox": f"{uri}/inbox",
        "url": f"https://social.example/@{name}",
    }))
    parent_id = await conn.fetchval("SELECT id FROM posts WHERE uri = $1", parent_uri)
    note = f"{uri}/statuses/{int(when.timestamp())}"
    post = RemotePost(
        note, "Note", note, parent_uri, "public", f"<p>{text}</p>", "", False, "en", [], [], [], [], when, None
    )
    stored = await insert_remote_post(conn, post, author.id, parent_id)
    assert stored is not None
    await conn.execute("UPDATE posts SET created_at = $2 WHERE id = $1", stored.id, when)
    return note


async def publish_at(
    conn: asyncpg.Connection, resolver: ActorResolver, settings: Settings, department: LocalActor, text: str,
    when: datetime, in_reply_to: str | None = None,
) -> str:
    """Publish a post dated ``when``; return its id."""
    post = await publish_post(conn, resolver, settings, department, text, in_reply_to=in_reply_to)
    await conn.execute("UPDATE posts SET published_at = $2, created_at = $2 WHERE id = $1", post.id, when)
    return post.uri


async def fill(settings: Settings, url: str) -> str:
    """Departments, six weeks of updates, replies, answers and follows; returns the library post to show."""
    now = datetime.now(timezone.utc)
    conn = await connect(url)
    try:
        await migrate(conn)
        vault = KeyVault(SECRET)
        made = {name: await create_department(conn, settings, vault, department_input(name, values))
                for name, values in DEPARTMENTS.items()}
        async with open_services(settings, url) as services:
            shown = ""
            for day in range(42, -1, -1):
                for index, (name, department) in enumerate(made.items()):
                    if (day + index) % (index + 2):
                        continue
                    when = now - timedelta(days=day, hours=index * 2 + 14)
                    text = UPDATES[(day + index) % len(UPDATES)]
                    uri = await publish_at(conn, services.resolver, settings, department, text, when)
                    if day % 3 == 0:
                        asked = when + timedelta(hours=1)
                        reply = await citizen_reply(conn, uri, f"citizen{day}", "Is this also on Sundays?", asked)
                        if day % 6 == 0 or name == "library":
                            answer = "No, only on weekdays; see the opening hours on our page."
                            await publish_at(conn, services.resolver, settings, department, answer,
                                             asked + timedelta(hours=2 + index * 3), reply)
                        if name == "library":
                            shown = uri
        for number in range(60):
            follower = await upsert_remote_actor(conn, parse_actor({
                "id": f"https://social.example/users/f{number}", "type": "Person", "preferredUsername": f"f{number}",
                "inbox": f"https://social.example/users/f{number}/inbox",
            }))
            target = list(made.values())[number % len(made)]
            await upsert_follow(conn, follower.id, target.id, f"https://social.example/follows/{number}", "accepted")
            await conn.execute("UPDATE follow_events SET occurred_at = $1 WHERE id = (SELECT max(id) FROM follow_events)",
                               now - timedelta(days=40 - number // 2))
        return shown
    finally:
        await conn.close()


async def photograph(chromium: str, url: str, width: int, target: Path, profile: Path) -> None:
    """One headless Chromium screenshot of ``url`` at ``width`` pixels."""
    process = await asyncio.create_subprocess_exec(
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
        f"--user-data-dir={profile}", f"--screenshot={target}", f"--window-size={width},{HEIGHTS[width]}", url,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )
    if await process.wait() != 0 or not target.exists():
        raise RuntimeError(f"chromium could not photograph {url}")
    print(f"{target}  <- {url}", flush=True)


async def run(out: Path, chromium: str) -> None:
    """Fill a fresh database, serve it, and take every screenshot."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as directory:
        database_url, server = start_embedded_postgres(Path(directory))
        try:
            port = free_port()
            settings = load_settings(environ={}, domain=f"127.0.0.1:{port}", scheme="http", secret_key=SECRET,
                                     database_url=database_url, data_dir=directory, organisation_name="City of Example")
            post = await fill(settings, database_url)
            config = uvicorn.Config(create_app(settings, database_url), host="127.0.0.1", port=port, log_config=None)
            web = uvicorn.Server(config)
            serving = asyncio.create_task(web.serve())
            while not web.started:
                await asyncio.sleep(0.05)
            pages = {"front": "/", "department": "/@library", "post": post.replace(settings.base_url, ""),
                     "archive": "/@library/archive", "transparency": "/transparency"}
            try:
                for name, path in pages.items():
                    for width in WIDTHS:
                        target = (out / f"{name}-{width}.png").resolve()
                        await photograph(chromium, settings.base_url + path, width, target, Path(directory) / "chromium")
            finally:
                web.should_exit = True
                await serving
        finally:
            server.cleanup()


def main() -> None:
    """Parse the arguments and take the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    asyncio.run(run(args.out, args.chromium))


if __name__ == "__main__":
    main()
