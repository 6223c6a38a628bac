"""WebFinger (RFC 7033) and host-meta: how Mastodon turns ``@library@city.example`` into an actor."""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors import queries
from actors.queries import INSTANCE_TYPE, LocalActor
from actors.urls import department_urls, instance_actor_urls
from fedi.responses import JSONResponse, error_response
from fedi.settings import Settings

JRD = "application/jrd+json; charset=utf-8"
PROFILE_PAGE = "http://webfinger.net/rel/profile-page"
AVATAR = "http://webfinger.net/rel/avatar"
CORS = {"Access-Control-Allow-Origin": "*"}
ACCT_RE = re.compile(r"^(?:acct:)?@?([^@\s/:]+)@([^@\s/]+)$", re.IGNORECASE)
PROFILE_PATH_RE = re.compile(r"^/(?:users/|@)([^/]+)/?$")


class MalformedResource(ValueError):
    """The ``resource`` parameter is neither an acct: URI nor a URL."""


@dataclass(frozen=True)
class Lookup:
    """What a resource asks for: a username on a domain."""

    username: str
    domain: str


def parse_resource(resource: str, settings: Settings) -> Lookup:
    """Read ``acct:user@domain``, ``user@domain`` or one of our actor/profile URLs."""
    resource = unquote(resource.strip())
    match = ACCT_RE.match(resource)
    if match:
        return Lookup(match.group(1), match.group(2).lower())
    parts = urlsplit(resource)
    if parts.scheme in ("http", "https") and parts.netloc:
        if parts.path == instance_actor_urls(settings.base_url).id.removeprefix(settings.base_url):
            return Lookup(settings.domain, parts.netloc.lower())
        path = PROFILE_PATH_RE.match(parts.path)
        if path:
            return Lookup(path.group(1), parts.netloc.lower())
        return Lookup("", parts.netloc.lower())
    raise MalformedResource(f"resource {resource!r} is not an acct: URI or a URL")


def render_jrd(actor: LocalActor, settings: Settings) -> dict[str, Any]:
    """The JRD for a local actor: subject, aliases, ``self`` and profile-page links."""
    if actor.actor_type == INSTANCE_TYPE:
        urls = instance_actor_urls(settings.base_url)
    else:
        urls = department_urls(settings.base_url, actor.username)
    links: list[dict[str, str]] = [
        {"rel": PROFILE_PAGE, "type": "text/html", "href": urls.profile},
        {"rel": "self", "type": "application/activity+json", "href": urls.id},
    ]
    if actor.avatar_url:
        media_type = mimetypes.guess_type(urlsplit(actor.avatar_url).path)[0] or "image/png"
        links.append({"rel": AVATAR, "type": media_type, "href": actor.avatar_url})
    return {"subject": f"acct:{actor.username}@{settings.domain}", "aliases": [urls.profile, urls.id], "links": links}


async def webfinger(request: Request) -> Response:
    """``/.well-known/webfinger?resource=…[&rel=…]``."""
    settings: Settings = request.state.settings
    resource = request.query_params.get("resource")
    if not resource:
        return error_response(400, "the resource parameter is required", CORS)
    try:
        lookup = parse_resource(resource, settings)
    except MalformedResource as exc:
        return error_response(400, str(exc), CORS)
    if lookup.domain != settings.domain or not lookup.username:
        return error_response(404, f"{resource} is not an account on {settings.domain}", CORS)
    async with request.state.pool.acquire() as conn:
        if lookup.username.lower() == settings.domain:
            actor = await queries.local_actor_by_username(conn, settings.domain, INSTANCE_TYPE)
        else:
            actor = await queries.local_actor_by_username(conn, lookup.username, include_deleted=True)
    if actor is None:
        return error_response(404, f"no account {lookup.username}@{settings.domain}", CORS)
    if actor.deleted_at is not None:
        return error_response(410, f"{lookup.username}@{settings.domain} has been deleted", CORS)
    jrd = render_jrd(actor, settings)
    wanted = request.query_params.getlist("rel")
    if wanted:
        jrd["links"] = [link for link in jrd["links"] if link["rel"] in wanted]
    return JSONResponse(jrd, media_type=JRD, headers=CORS)


async def host_meta(request: Request) -> Response:
    """``/.well-known/host-meta``: the XRD pointing at our WebFinger template."""
    template = f"{request.state.settings.base_url}/.well-known/webfinger?resource={{uri}}"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template="{template}"/>\n'
        "</XRD>\n"
    )
    return Response(body, media_type="application/xrd+xml; charset=utf-8", headers=CORS)


async def host_meta_json(request: Request) -> Response:
    """``/.well-known/host-meta.json``: the same as JSON."""
    template = f"{request.state.settings.base_url}/.well-known/webfinger?resource={{uri}}"
    return JSONResponse({"links": [{"rel": "lrdd", "template": template}]}, headers=CORS)


routes = [
    Route("/.well-known/webfinger", webfinger, methods=["GET", "HEAD"]),
    Route("/.well-known/host-meta", host_meta, methods=["GET", "HEAD"]),
    Route("/.well-known/host-meta.json", host_meta_json, methods=["GET", "HEAD"]),
]
