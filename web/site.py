"""The organisation as the public pages name it, and the addresses those pages link to."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from fedi.settings import Settings


@dataclass(frozen=True)
class Site:
    """The organisation's name and public origin."""

    name: str
    base_url: str
    domain: str

    def url(self, path: str) -> str:
        """The absolute URL of a local path."""
        return f"{self.base_url}{path}"

    def profile(self, username: str) -> str:
        """A department's page."""
        return self.url(f"/@{username}")

    def feed(self, username: str | None, kind: str) -> str:
        """The Atom (``atom``) or RSS (``rss``) feed of a department, or of the organisation for None."""
        return self.url(f"/feed.{kind}" if username is None else f"/@{username}.{kind}")

    def handle(self, username: str) -> str:
        """``@username@domain``, as people type it to follow."""
        return f"@{username}@{self.domain}"


def site_of(settings: Settings) -> Site:
    """The site for ``settings``; the organisation is named by its domain unless configured."""
    return Site(settings.organisation_name or settings.domain, settings.base_url, settings.domain)


def request_site(request: Request) -> Site:
    """The site serving ``request``."""
    return site_of(request.state.settings)
