"""Following a department or replying to a post from one's own fediverse server ("remote interaction").

The visitor types their address (``alex@their.server``, or their profile URL); they are sent to
``https://their.server/authorize_interaction?uri=<our id>``, the page Mastodon and most servers
offer for this, where they are already logged in. Only a well-formed host name is ever put in the
redirect; anything else shows the page again with the error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from actors.queries import local_actor_by_username
from fedi.errors import FediError
from fedi.settings import DOMAIN_RE
from outbox.queries import LISTED
from web import queries
from web.pages import message_page, render_department, render_post
from web.site import request_site

MAX_HANDLE = 320
USER_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
EXAMPLE = "alex@mastodon.example"


class InvalidHandle(FediError):
    """What a visitor typed is not a fediverse address."""


@dataclass(frozen=True)
class Handle:
    """A fediverse account's address."""

    user: str
    host: str

    def authorize_url(self, uri: str) -> str:
        """The page of the account's server where its owner follows or replies to ``uri``."""
        return f"https://{self.host}/authorize_interaction?{urlencode({'uri': uri})}"


def parse_handle(value: str, own_domain: str) -> Handle:
    """``user@host`` (a leading ``@`` allowed) or a profile URL ``https://host/@user``; raises InvalidHandle."""
    text = value.strip()
    if not text:
        raise InvalidHandle(f"Type your fediverse address, for example {EXAMPLE}.")
    if len(text) > MAX_HANDLE:
        raise InvalidHandle("That address is too long.")
    if text.lower().startswith(("https://", "http://")):
        parts = urlsplit(text)
        user, host = parts.path.strip("/").removeprefix("@"), parts.netloc
    else:
        user, _, host = text.removeprefix("@").partition("@")
    host = host.lower()
    if not USER_RE.match(user) or not DOMAIN_RE.match(host) or "." not in host.split(":")[0]:
        raise InvalidHandle(f"{text!r} is not a fediverse address; it looks like {EXAMPLE}.")
    if host == own_domain:
        raise InvalidHandle(f"Accounts of {own_domain} are departments; type the address of your own account.")
    return Handle(user, host)


def _redirect(url: str) -> Response:
    return RedirectResponse(url, 302, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})


async def follow(request: Request) -> Response:
    """``/follow?account=<department>&handle=<visitor>``: off to the visitor's server to follow."""
    site = request_site(request)
    account, handle = request.query_params.get("account", ""), request.query_params.get("handle", "")
    async with request.state.pool.acquire() as conn:
        department = await local_actor_by_username(conn, account) if USER_RE.match(account) else None
    if department is None:
        return message_page(site, 404, "No such department", "There is no such department here.")
    try:
        parsed = parse_handle(handle, site.domain)
    except InvalidHandle as exc:
        return await render_department(request, department.username, handle[:MAX_HANDLE], str(exc), 400)
    return _redirect(parsed.authorize_url(department.uri))


async def interact(request: Request) -> Response:
    """``/interact?account=<department>&post=<id>&handle=<visitor>``: off to the visitor's server to reply."""
    site = request_site(request)
    account, post = request.query_params.get("account", ""), request.query_params.get("post", "")
    handle = request.query_params.get("handle", "")
    entry = None
    if USER_RE.match(account) and post.isdigit():
        async with request.state.pool.acquire() as conn:
            department = await local_actor_by_username(conn, account)
            entry = None if department is None else await queries.local_entry(conn, department.id, int(post))
    if entry is None or entry.deleted_at is not None or entry.visibility not in LISTED:
        return message_page(site, 404, "Not found", "There is no such post here.")
    try:
        parsed = parse_handle(handle, site.domain)
    except InvalidHandle as exc:
        return await render_post(request, account, entry.id, handle[:MAX_HANDLE], str(exc), 400)
    return _redirect(parsed.authorize_url(entry.uri))
