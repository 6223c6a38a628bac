"""Likes and boosts by departments, of local and remote posts, and their Undo.

As in ``outbox.posts``: the input is checked first (``ValidationError`` or ``NotFound``, nothing
changed); a remote post not stored yet is fetched with its author before any write; then the post
(when fetched), the interaction and its activity are stored and queued in one transaction. As
Mastodon does, a Like goes to the post's author only and an Announce to the author and the booster's
followers; an Undo embeds the activity it undoes and goes where that went (to the followers as they
are now). Liking or boosting a post twice returns the first interaction and sends nothing; undoing
what was never done is ``NotFound``. Only public and unlisted posts can be boosted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from actors.errors import NotFound, ValidationError
from actors.queries import DEPARTMENT_TYPE, Actor
from actors.remote import ActorResolver
from actors.remote_queries import actor_by_id
from actors.urls import department_urls
from fedi.settings import Settings
from outbox import interaction_queries, queries
from outbox.addressing import address, personal_inboxes
from outbox.builders import announce_id, build_announce, build_like, build_undo, like_id
from outbox.fanout import enqueue_activity, follower_inboxes
from outbox.interaction_queries import ANNOUNCE, LIKE, FetchedPost, Interaction
from outbox.queries import LISTED, Post
from outbox.remote_posts import fetch_post

VERBS = {LIKE: ("like", "liked"), ANNOUNCE: ("boost", "boosted")}


@dataclass(frozen=True)
class Target:
    """The post liked or boosted: stored (``post``) or just fetched (``fetched``), and its author."""

    post: Post | None
    fetched: FetchedPost | None
    author: Actor

    @property
    def visibility(self) -> str:
        """The post's visibility, as stored or as read from its addressing."""
        found = self.post or self.fetched
        assert found is not None
        return found.visibility


def _check_department(department: Actor) -> None:
    if not department.local or department.deleted_at is not None or department.actor_type != DEPARTMENT_TYPE:
        raise ValidationError(f"{department.handle} is not a live department of this server")


def _reference(uri: str) -> str:
    """A post's id or page URL, stripped; it must be an http(s) URL."""
    reference = uri.strip()
    parts = urlsplit(reference)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValidationError(f"{uri!r} is not the id or URL of a post")
    return reference


async def _stored_target(conn: asyncpg.Connection, post: Post, reference: str) -> Target:
    if post.deleted_at is not None:
        raise NotFound(f"post {reference} was deleted")
    author = await actor_by_id(conn, post.author_id)
    assert author is not None
    return Target(post, None, author)


async def find_target(conn: asyncpg.Connection, resolver: ActorResolver, uri: str, verb: str) -> Target:
    """The live post ``uri`` names (its id, or a local page URL): stored, or else fetched with its author."""
    reference = _reference(uri)
    post = await queries.post_by_uri(conn, reference) or await queries.post_by_url(conn, reference)
    if post is not None:
        return await _stored_target(conn, post, reference)
    if resolver.is_local(reference):
        raise NotFound(f"no post {reference}")
    fetched, author = await fetch_post(resolver, reference, verb)
    stored = await queries.post_by_uri(conn, fetched.uri)  # named by its page URL, or stored meanwhile
    if stored is not None:
        return await _stored_target(conn, stored, reference)
    return Target(None, fetched, author)


async def _store_post(conn: asyncpg.Connection, target: Target) -> Post:
    """The target's stored post, storing the fetched one first."""
    if target.post is not None:
        return target.post
    assert target.fetched is not None
    await interaction_queries.insert_fetched_post(conn, target.fetched, target.author.id)
    post = await queries.post_by_uri(conn, target.fetched.uri)
    assert post is not None
    return post


def _activity(settings: Settings, department: Actor, interaction: Interaction, author: Actor) -> dict[str, Any]:
    """The Like or Announce of a stored interaction (rebuilt the same way to be undone)."""
    if interaction.kind == LIKE:
        return build_like(interaction.uri, department, interaction.post_uri)
    audience = address("public", department_urls(settings.base_url, department.username).followers, [author.uri])
    return build_announce(interaction.uri, department, interaction.post_uri, audience.to, audience.cc, interaction.created_at)


async def _inboxes(conn: asyncpg.Connection, department: Actor, kind: str, author: Actor) -> list[str]:
    """The post author's personal inbox (when remote), and for a boost the department's followers."""
    personal = personal_inboxes([author])
    return personal if kind == LIKE else [*personal, *await follower_inboxes(conn, department.id)]


async def _interact(
    conn: asyncpg.Connection, resolver: ActorResolver, settings: Settings, department: Actor, uri: str, kind: str
) -> Interaction:
    _check_department(department)
    target = await find_target(conn, resolver, uri, VERBS[kind][0])
    if kind == ANNOUNCE and target.visibility not in LISTED:
        raise ValidationError(f"only public and unlisted posts can be boosted; {uri.strip()} is {target.visibility}")
    if target.post is not None:
        done = await interaction_queries.interaction_on(conn, kind, department.id, target.post.id)
        if done is not None:
            return done
    async with conn.transaction():
        post = await _store_post(conn, target)
        number = await interaction_queries.next_interaction_id(conn)
        activity_id = (like_id if kind == LIKE else announce_id)(department.uri, number)
        interaction = await interaction_queries.insert_interaction(conn, number, activity_id, kind, department.id, post.id)
        if interaction is None:  # done by another process since the check
            done = await interaction_queries.interaction_on(conn, kind, department.id, post.id)
            assert done is not None
            return done
        await enqueue_activity(
            conn, actor_id=department.id, activity=_activity(settings, department, interaction, target.author),
            inboxes=await _inboxes(conn, department, kind, target.author), post_id=post.id,
        )
    return interaction


async def _undo(conn: asyncpg.Connection, settings: Settings, department: Actor, uri: str, kind: str) -> Interaction:
    _check_department(department)
    reference = _reference(uri)
    interaction = await interaction_queries.interaction_by_reference(conn, kind, department.id, reference)
    if interaction is None:
        raise NotFound(f"{department.username} has not {VERBS[kind][1]} {reference}")
    post = await queries.post_by_id(conn, interaction.post_id)
    author = None if post is None else await actor_by_id(conn, post.author_id)
    assert post is not None and author is not None
    async with conn.transaction():
        if not await interaction_queries.delete_interaction(conn, interaction.id):
            raise NotFound(f"{department.username} has not {VERBS[kind][1]} {reference}")
        await enqueue_activity(
            conn, actor_id=department.id, activity=build_undo(_activity(settings, department, interaction, author)),
            inboxes=await _inboxes(conn, department, kind, author), post_id=post.id,
        )
    return interaction


async def like_post(
    conn: asyncpg.Connection, resolver: ActorResolver, settings: Settings, department: Actor, uri: str
) -> Interaction:
    """Like a post (local or remote) as ``department`` and queue the Like for its author."""
    return await _interact(conn, resolver, settings, department, uri, LIKE)


async def boost_post(
    conn: asyncpg.Connection, resolver: ActorResolver, settings: Settings, department: Actor, uri: str
) -> Interaction:
    """Boost a public or unlisted post as ``department`` and queue the Announce for its author and the followers."""
    return await _interact(conn, resolver, settings, department, uri, ANNOUNCE)


async def unlike_post(conn: asyncpg.Connection, settings: Settings, department: Actor, uri: str) -> Interaction:
    """Take back ``department``'s like of a post and queue the Undo; return the like removed."""
    return await _undo(conn, settings, department, uri, LIKE)


async def unboost_post(conn: asyncpg.Connection, settings: Settings, department: Actor, uri: str) -> Interaction:
    """Take back ``department``'s boost of a post and queue the Undo; return the boost removed."""
    return await _undo(conn, settings, department, uri, ANNOUNCE)
