"""The URLs of local actors: every id fedi publishes is built here."""

from __future__ import annotations

from dataclasses import dataclass

INSTANCE_ACTOR_PATH = "/actor"


@dataclass(frozen=True)
class ActorUrls:
    """The addresses a local actor document names."""

    id: str
    inbox: str
    outbox: str
    followers: str
    following: str
    featured: str
    profile: str
    shared_inbox: str


def _urls(base_url: str, actor: str, profile: str) -> ActorUrls:
    return ActorUrls(
        id=actor,
        inbox=f"{actor}/inbox",
        outbox=f"{actor}/outbox",
        followers=f"{actor}/followers",
        following=f"{actor}/following",
        featured=f"{actor}/collections/featured",
        profile=profile,
        shared_inbox=f"{base_url}/inbox",
    )


def department_urls(base_url: str, username: str) -> ActorUrls:
    """URLs of the department ``username`` on the server at ``base_url``."""
    return _urls(base_url, f"{base_url}/users/{username}", f"{base_url}/@{username}")


def instance_actor_urls(base_url: str) -> ActorUrls:
    """URLs of the instance actor, which signs fetches made on behalf of the server itself."""
    return _urls(base_url, f"{base_url}{INSTANCE_ACTOR_PATH}", f"{base_url}/")
