"""OAuth scopes as Mastodon defines them: top-level scopes imply their ``read:…``/``write:…`` parts."""

from __future__ import annotations

from collections.abc import Iterable

TOP_LEVEL = frozenset({"read", "write", "follow", "push", "profile"})
READ = frozenset(
    f"read:{part}" for part in
    ("accounts", "blocks", "bookmarks", "favourites", "filters", "follows", "lists", "mutes", "notifications", "search", "statuses")
)
WRITE = frozenset(
    f"write:{part}" for part in
    ("accounts", "blocks", "bookmarks", "conversations", "favourites", "filters", "follows", "lists", "media",
     "mutes", "notifications", "reports", "statuses")
)
# The legacy "follow" scope grants these (as in Mastodon).
FOLLOW = frozenset({"read:follows", "write:follows", "read:blocks", "write:blocks", "read:mutes", "write:mutes"})
# Admin scopes: "admin:read"/"admin:write" grant their parts; "read" and "write" grant none of them.
ADMIN = frozenset(
    {"admin:read", "admin:write"}
    | {f"admin:read:{part}" for part in ("accounts", "domain_blocks", "reports")}
    | {f"admin:write:{part}" for part in ("accounts", "domain_blocks", "reports")}
)
KNOWN = TOP_LEVEL | READ | WRITE | ADMIN


class ScopeError(ValueError):
    """A scope string names a scope Mastodon does not have."""


def parse_scopes(value: str | None, default: str = "read") -> frozenset[str]:
    """Space- (or plus-) separated scopes, validated; ``default`` when empty."""
    names = frozenset((value or default).replace("+", " ").split())
    unknown = sorted(names - KNOWN)
    if unknown:
        raise ScopeError(f"unknown scope(s): {', '.join(unknown)}")
    return names


def allows(granted: Iterable[str], required: str) -> bool:
    """Whether scopes ``granted`` include ``required`` (directly, by their top-level scope, or via ``follow``)."""
    granted = frozenset(granted)
    return (
        required in granted
        or required.split(":", 1)[0] in granted
        or ("follow" in granted and required in FOLLOW)
        or (required.startswith("admin:") and required.rsplit(":", 1)[0] in granted)
    )


def within(requested: Iterable[str], registered: Iterable[str]) -> bool:
    """Whether every requested scope is covered by the application's registered scopes."""
    return all(allows(registered, scope) for scope in requested)
