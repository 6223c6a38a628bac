"""Mastodon's Account, CredentialAccount (with Source), Field and Relationship entities.

Departments and remote actors alike are Accounts; ids are database ids as strings. A department's
profile fields are stored as plain text and linkified here; a remote actor's arrive as sanitized HTML.
Accounts without an avatar or header point at the placeholder images served by ``images.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from actors.queries import Actor
from actors.urls import department_urls
from fedi.text import linkify

MISSING_AVATAR_PATH = "/avatars/original/missing.png"
MISSING_HEADER_PATH = "/headers/original/missing.png"
BOT_TYPES = frozenset({"Service", "Application"})
# What a department posts with: fedi has no per-account defaults (Mastodon's ``source`` and preferences).
DEFAULT_PRIVACY = "public"
DEFAULT_SENSITIVE = False


@dataclass(frozen=True)
class AccountStats:
    """The counts an Account shows."""

    followers: int = 0
    following: int = 0
    statuses: int = 0
    last_status_at: datetime | None = None


@dataclass(frozen=True)
class RelationshipFlags:
    """How the acting department and one account stand to each other."""

    account_id: int
    following: bool = False
    requested: bool = False
    followed_by: bool = False
    requested_by: bool = False
    blocking: bool = False
    blocked_by: bool = False


def render_time(moment: datetime) -> str:
    """An ISO 8601 time in UTC with milliseconds, as Mastodon writes them."""
    if moment.tzinfo is not timezone.utc:  # the database's times already are
        moment = moment.astimezone(timezone.utc)
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"  # "+00:00" -> "Z"


def render_day(moment: datetime) -> str:
    """Midnight UTC of the day of ``moment`` (Mastodon rounds account creation times)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT00:00:00.000Z")


def render_date(moment: datetime) -> str:
    """The UTC date of ``moment`` (Mastodon's ``last_status_at``)."""
    return moment.astimezone(timezone.utc).date().isoformat()


def acct(actor: Actor) -> str:
    """``username`` for departments, ``username@domain`` for remote accounts."""
    return actor.username if actor.local else f"{actor.username}@{actor.domain}"


def render_fields(actor: Actor) -> list[dict[str, Any]]:
    """Profile fields as Mastodon's Field entities (values in HTML)."""
    return [
        {"name": f["name"], "value": linkify(f["value"]) if actor.local else f["value"], "verified_at": None}
        for f in actor.fields
    ]


def render_account(actor: Actor, stats: AccountStats, base_url: str) -> dict[str, Any]:
    """The Account entity of a department or a remote actor."""
    url = department_urls(base_url, actor.username).profile if actor.local else (actor.url or actor.uri)
    avatar = actor.avatar_url or f"{base_url}{MISSING_AVATAR_PATH}"
    header = actor.header_url or f"{base_url}{MISSING_HEADER_PATH}"
    account: dict[str, Any] = {
        "id": str(actor.id),
        "username": actor.username,
        "acct": acct(actor),
        "display_name": actor.display_name,
        "locked": actor.manually_approves_followers,
        "bot": actor.actor_type in BOT_TYPES,
        "discoverable": actor.discoverable,
        "indexable": actor.local and actor.discoverable,
        "group": actor.actor_type == "Group",
        "created_at": render_day(actor.created_at),
        "note": actor.summary_html,
        "url": url,
        "uri": actor.uri,
        "avatar": avatar,
        "avatar_static": avatar,
        "header": header,
        "header_static": header,
        "followers_count": stats.followers,
        "following_count": stats.following,
        "statuses_count": stats.statuses,
        "last_status_at": render_date(stats.last_status_at) if stats.last_status_at else None,
        "hide_collections": False,
        "emojis": [],
        "roles": [],
        "fields": render_fields(actor),
    }
    if actor.local:
        account["noindex"] = not actor.discoverable
    return account


def render_source(actor: Actor, follow_requests: int) -> dict[str, Any]:
    """The ``source`` of a CredentialAccount: the plain-text profile and the posting defaults."""
    return {
        "privacy": DEFAULT_PRIVACY,
        "sensitive": DEFAULT_SENSITIVE,
        "language": "",
        "note": actor.summary,
        "fields": [{"name": f["name"], "value": f["value"], "verified_at": None} for f in actor.fields],
        "follow_requests_count": follow_requests,
        "hide_collections": False,
        "discoverable": actor.discoverable,
        "indexable": actor.discoverable,
    }


def render_credential_account(
    actor: Actor, stats: AccountStats, base_url: str, follow_requests: int, staff_username: str, role: str
) -> dict[str, Any]:
    """The department as its own staff see it: the Account, its ``source``, and who is acting (``fedi``)."""
    return {
        **render_account(actor, stats, base_url),
        "source": render_source(actor, follow_requests),
        "role": {"id": "-99", "name": "", "permissions": "0", "color": "", "highlighted": False},
        "fedi": {"staff": {"username": staff_username, "role": role}},
    }


def render_relationship(flags: RelationshipFlags) -> dict[str, Any]:
    """Mastodon's Relationship entity (fedi has no mutes, notes, endorsements or domain blocks)."""
    return {
        "id": str(flags.account_id),
        "following": flags.following,
        "showing_reblogs": flags.following,
        "notifying": False,
        "languages": None,
        "followed_by": flags.followed_by,
        "blocking": flags.blocking,
        "blocked_by": flags.blocked_by,
        "muting": False,
        "muting_notifications": False,
        "requested": flags.requested,
        "requested_by": flags.requested_by,
        "domain_blocking": False,
        "endorsed": False,
        "note": "",
    }
