"""NodeInfo 2.0 and 2.1: what software this is and how many accounts it hosts."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors import queries
from fedi import __version__
from fedi.responses import JSONResponse, error_response

VERSIONS = ("2.0", "2.1")
SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/{version}"


async def nodeinfo_links(request: Request) -> Response:
    """``/.well-known/nodeinfo``: links to each supported schema version."""
    base = request.state.settings.base_url
    links = [{"rel": SCHEMA.format(version=v), "href": f"{base}/nodeinfo/{v}"} for v in VERSIONS]
    return JSONResponse({"links": links}, headers={"Access-Control-Allow-Origin": "*"})


def render_nodeinfo(version: str, departments: int, node_name: str) -> dict[str, Any]:
    """The NodeInfo document; departments are the users this server hosts."""
    return {
        "version": version,
        "software": {"name": "fedi", "version": __version__},
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": False,
        "usage": {"users": {"total": departments}},
        "metadata": {"nodeName": node_name},
    }


async def nodeinfo(request: Request) -> Response:
    """``/nodeinfo/2.0`` and ``/nodeinfo/2.1`` with live counts from the database."""
    version = request.path_params["version"]
    if version not in VERSIONS:
        return error_response(404, f"NodeInfo {version} is not served; try {' or '.join(VERSIONS)}")
    settings = request.state.settings
    async with request.state.pool.acquire() as conn:
        departments = await queries.count_departments(conn)
    document = render_nodeinfo(version, departments, settings.organisation_name or settings.domain)
    media_type = f'application/json; profile="{SCHEMA.format(version=version)}#"'
    return JSONResponse(document, media_type=media_type, headers={"Access-Control-Allow-Origin": "*"})


routes = [
    Route("/.well-known/nodeinfo", nodeinfo_links, methods=["GET", "HEAD"]),
    Route("/nodeinfo/{version}", nodeinfo, methods=["GET", "HEAD"]),
]
