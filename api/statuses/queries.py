"""SQL for statuses as the client API shows them: who may see a post, and what a Status needs besides it.

A post is visible to a department when it is public or unlisted, written by the department, mentions
it, or is followers-only and the department follows its author; to an anonymous caller when it is
public or unlisted. Deleted posts are visible to no one. Every function takes the connection first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import asyncpg

from actors.queries import ACTOR_COLUMNS, Actor
from api.accounts.entities import AccountStats
from api.accounts.queries import ACCOUNT_WIDTH, account_columns, account_of
from api.pagination import Page
from api.statuses.media_queries import MEDIA_JSON, MediaRecord, media_from_json
from outbox.queries import LISTED, Post

POST_COLUMNS = (
    "p.id, p.uri, p.local, p.author_id, p.staff_id, p.object_type, p.url, p.in_reply_to_uri, p.in_reply_to_id, "
    "p.visibility, p.source, p.content_html, p.summary, p.sensitive, p.language, p.to_uris, p.cc_uris, p.tags, "
    "p.attachments, p.published_at, p.edited_at, p.deleted_at, p.pinned_at, p.created_at"
)
MAX_THREAD = 4096


def visible(viewer: str) -> str:
    """The SQL condition that post ``p`` is live and visible to the department id in ``viewer`` (a placeholder)."""
    return f"""p.deleted_at IS NULL AND (
        p.visibility IN ('public', 'unlisted')
        OR p.author_id = {viewer}
        OR EXISTS (SELECT 1 FROM post_mentions vm WHERE vm.post_id = p.id AND vm.actor_id = {viewer})
        OR (p.visibility = 'private' AND EXISTS (
            SELECT 1 FROM follows vf WHERE vf.follower_id = {viewer} AND vf.followee_id = p.author_id
              AND vf.state = 'accepted')))"""


def window(page: Page, first: int, column: str = "p.id") -> tuple[str, list[Any]]:
    """The ``AND … ORDER BY … LIMIT`` tail of a query paged on ``column`` and its arguments from ``$first``."""
    lower = page.min_id if page.min_id is not None else page.since_id
    order = "ASC" if page.ascending else "DESC"
    sql = (
        f" AND (${first}::bigint IS NULL OR {column} < ${first})"
        f" AND (${first + 1}::bigint IS NULL OR {column} > ${first + 1})"
        f" ORDER BY {column} {order} LIMIT ${first + 2}"
    )
    return sql, [page.max_id, lower, page.limit]


def posts_of(rows: Sequence[asyncpg.Record], page: Page | None = None) -> list[Post]:
    """Posts from rows, newest first (a ``min_id`` page is read oldest first, then turned around)."""
    posts = [Post(*r) for r in rows]  # POST_COLUMNS are Post's fields, in order (checked below)
    return posts[::-1] if page is not None and page.ascending else posts


if [c.removeprefix("p.") for c in POST_COLUMNS.split(", ")] != [f.name for f in fields(Post)]:
    raise ImportError("POST_COLUMNS must name Post's fields in their order")


@dataclass(frozen=True)
class MentionedAccount:
    """What a Status::Mention shows of a mentioned actor."""

    id: int
    username: str
    domain: str
    local: bool
    url: str | None
    uri: str


@dataclass(frozen=True)
class PostExtras:
    """What a Status shows besides the post: counts, the viewer's own actions, the parent's author, the app,
    the mentioned accounts and the uploaded media."""

    replies: int
    favourites: int
    reblogs: int
    favourited: bool
    reblogged: bool
    parent_author_id: int | None
    application_name: str | None
    application_website: str | None
    mentions: tuple[MentionedAccount, ...] = ()
    media: tuple[MediaRecord, ...] = ()


async def visible_post(conn: asyncpg.Connection, post_id: int, viewer_id: int | None) -> Post | None:
    """A live post the viewer (a department id, or None for anyone) may see."""
    row = await conn.fetchrow(f"SELECT {POST_COLUMNS} FROM posts p WHERE p.id = $1 AND {visible('$2')}", post_id, viewer_id)
    return None if row is None else Post(**dict(row))


async def visible_posts(conn: asyncpg.Connection, post_ids: Sequence[int], viewer_id: int | None) -> list[Post]:
    """The live posts among ``post_ids`` the viewer may see."""
    rows = await conn.fetch(
        f"SELECT {POST_COLUMNS} FROM posts p WHERE p.id = ANY($1::bigint[]) AND {visible('$2')}", list(post_ids), viewer_id
    )
    return posts_of(rows)


async def own_post(conn: asyncpg.Connection, post_id: int, author_id: int) -> Post | None:
    """A live local post written by the department ``author_id``."""
    row = await conn.fetchrow(
        f"SELECT {POST_COLUMNS} FROM posts p WHERE p.id = $1 AND p.author_id = $2 AND p.local AND p.deleted_at IS NULL",
        post_id, author_id,
    )
    return None if row is None else Post(**dict(row))


async def extras(
    conn: asyncpg.Connection, post_ids: Sequence[int], viewer_id: int | None
) -> tuple[dict[int, PostExtras], dict[int, tuple[Actor, AccountStats]]]:
    """What the Statuses of ``post_ids`` need besides the posts, in one query: each post's counts, the viewer's
    like and boost, the replied-to author, the application, the mentions and the media (as JSON arrays); and
    the authors with their Account counts, by id."""
    rows = await conn.fetch(
        f"""WITH page AS MATERIALIZED (
                SELECT p.id, p.author_id, p.in_reply_to_id, p.application_id,
                       p.id = min(p.id) OVER (PARTITION BY p.author_id) AS first_of_author
                FROM posts p WHERE p.id = ANY($1::bigint[])),
            authors AS MATERIALIZED (
                SELECT {account_columns('$3')} FROM actors x WHERE x.id IN (SELECT author_id FROM page)),
            counts AS (
                SELECT i.post_id, count(*) FILTER (WHERE i.kind = 'like') AS favourites,
                       count(*) FILTER (WHERE i.kind = 'announce') AS reblogs,
                       coalesce(bool_or(i.kind = 'like' AND i.actor_id = $2), false) AS favourited,
                       coalesce(bool_or(i.kind = 'announce' AND i.actor_id = $2), false) AS reblogged
                FROM interactions i WHERE i.post_id = ANY($1::bigint[]) GROUP BY i.post_id),
            replies AS (
                SELECT r.in_reply_to_id AS post_id, count(*) AS replies FROM posts r
                WHERE r.in_reply_to_id = ANY($1::bigint[]) AND r.deleted_at IS NULL GROUP BY r.in_reply_to_id),
            mentions AS (
                SELECT m.post_id, json_agg(json_build_array(a.id, a.username, a.domain, a.local, a.url, a.uri)
                                           ORDER BY a.id) AS mentions
                FROM post_mentions m JOIN actors a ON a.id = m.actor_id
                WHERE m.post_id = ANY($1::bigint[]) GROUP BY m.post_id),
            media AS (
                SELECT m.post_id, json_agg(json_build_array({MEDIA_JSON}) ORDER BY m.position) AS media
                FROM media_attachments m WHERE m.post_id = ANY($1::bigint[]) GROUP BY m.post_id)
            SELECT p.id AS post_id, coalesce(replies.replies, 0) AS replies,
                  coalesce(counts.favourites, 0) AS favourites, coalesce(counts.reblogs, 0) AS reblogs,
                  coalesce(counts.favourited, false) AS favourited, coalesce(counts.reblogged, false) AS reblogged,
                  parent.author_id AS parent_author_id,
                  app.name AS application_name, app.website AS application_website,
                  mentions.mentions, media.media, p.author_id,
                  author.*  -- last: ACCOUNT_WIDTH columns read by account_of, on the author's first post only
           FROM page p
           LEFT JOIN authors author ON author.id = p.author_id AND p.first_of_author
           LEFT JOIN counts ON counts.post_id = p.id
           LEFT JOIN replies ON replies.post_id = p.id
           LEFT JOIN mentions ON mentions.post_id = p.id
           LEFT JOIN media ON media.post_id = p.id
           LEFT JOIN posts parent ON parent.id = p.in_reply_to_id
           LEFT JOIN oauth_applications app ON app.id = p.application_id""",
        list(post_ids), viewer_id, list(LISTED),
    )
    found: dict[int, PostExtras] = {}
    authors: dict[int, tuple[Actor, AccountStats]] = {}
    for r in rows:
        found[r["post_id"]] = PostExtras(
            r["replies"], r["favourites"], r["reblogs"], r["favourited"], r["reblogged"], r["parent_author_id"],
            r["application_name"], r["application_website"],
            tuple(MentionedAccount(*m) for m in r["mentions"] or ()),
            tuple(media_from_json(m) for m in r["media"] or ()),
        )
        if r[len(r) - ACCOUNT_WIDTH] is not None:  # the author's columns, present once per author
            authors[r["author_id"]] = account_of(r, len(r) - ACCOUNT_WIDTH)
    return found, authors


async def actors_by_ids(conn: asyncpg.Connection, actor_ids: Sequence[int]) -> dict[int, Actor]:
    """Actors by database id."""
    rows = await conn.fetch(f"SELECT {ACTOR_COLUMNS} FROM actors WHERE id = ANY($1::bigint[])", list(set(actor_ids)))
    return {r["id"]: Actor(**dict(r)) for r in rows}


async def ancestors(conn: asyncpg.Connection, post: Post, viewer_id: int | None, limit: int) -> list[Post]:
    """The visible posts above ``post`` in its thread, oldest first."""
    rows = await conn.fetch(
        f"""WITH RECURSIVE up(id, depth) AS (
                SELECT in_reply_to_id, 1 FROM posts WHERE id = $1 AND in_reply_to_id IS NOT NULL
                UNION ALL
                SELECT q.in_reply_to_id, up.depth + 1 FROM up JOIN posts q ON q.id = up.id
                WHERE q.in_reply_to_id IS NOT NULL AND up.depth < $3)
            SELECT {POST_COLUMNS} FROM up JOIN posts p ON p.id = up.id
            WHERE {visible('$2')} ORDER BY up.depth DESC LIMIT $4""",
        post.id, viewer_id, MAX_THREAD, limit,
    )
    return posts_of(rows)


async def descendants(conn: asyncpg.Connection, post: Post, viewer_id: int | None, limit: int) -> list[Post]:
    """The visible replies below ``post``, depth first, each branch oldest first (a hidden post hides its branch)."""
    rows = await conn.fetch(
        f"""WITH RECURSIVE down(id, path) AS (
                SELECT p.id, ARRAY[p.id] FROM posts p WHERE p.in_reply_to_id = $1 AND {visible('$2')}
                UNION ALL
                SELECT p.id, down.path || p.id FROM down JOIN posts p ON p.in_reply_to_id = down.id
                WHERE {visible('$2')} AND cardinality(down.path) < $3)
            SELECT {POST_COLUMNS} FROM down JOIN posts p ON p.id = down.id ORDER BY down.path LIMIT $4""",
        post.id, viewer_id, MAX_THREAD, limit,
    )
    return posts_of(rows)


async def interacting_actors(
    conn: asyncpg.Connection, post_id: int, kind: str, page: Page
) -> list[tuple[int, Actor]]:
    """(interaction id, actor) of those who liked or boosted a post, newest first."""
    tail, args = window(page, 3, "i.id")
    rows = await conn.fetch(
        f"""SELECT i.id AS interaction_id, {', '.join('a.' + c for c in ACTOR_COLUMNS.split(', '))}
            FROM interactions i JOIN actors a ON a.id = i.actor_id
            WHERE i.post_id = $1 AND i.kind = $2{tail}""",
        post_id, kind, *args,
    )
    found = []
    for row in rows:
        values = dict(row)
        found.append((values.pop("interaction_id"), Actor(**values)))
    return found[::-1] if page.ascending else found

