"""``/api/v1/admin/domain_blocks``: list, show, create, update and lift the instance's domain blocks.

Only ``severity=suspend`` exists in fedi: a blocked domain is cut off entirely (see ``actors.blocks``).
``reject_media``, ``reject_reports`` and ``obfuscate`` are accepted as Mastodon clients send them;
a suspension rejects media and reports anyway.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from actors import block_queries, blocks
from actors.errors import Conflict, ValidationError
from api.admin.access import authenticate_moderator
from api.admin.entities import render_domain_block
from api.errors import NotFoundError, Unprocessable
from api.oauth.params import Params, all_params, flag_param, text_param
from api.pagination import link_header, page_of
from fedi.responses import JSONResponse

READ, WRITE = "admin:read:domain_blocks", "admin:write:domain_blocks"
RECORD_NOT_FOUND = "Record not found"


def _block_id(request: Request) -> int:
    value = request.path_params["id"]
    if not (value.isascii() and value.isdigit() and len(value) <= 18):
        raise NotFoundError(RECORD_NOT_FOUND)
    return int(value)


def _comments(params: Params) -> tuple[str | None, str | None]:
    """The public and private comments given (None when absent), checked; also checks the flags Mastodon sends."""
    severity = text_param(params, "severity")
    if severity not in (None, *blocks.SEVERITIES):
        raise Unprocessable(f"severity {severity!r} is not supported: fedi only suspends domains (severity=suspend)")
    for flag in ("reject_media", "reject_reports", "obfuscate"):
        flag_param(params, flag)
    try:
        public = text_param(params, "public_comment")
        private = text_param(params, "private_comment")
        return (
            None if public is None else blocks.check_comment(public, "public comment"),
            None if private is None else blocks.check_comment(private, "private comment"),
        )
    except ValidationError as exc:
        raise Unprocessable(str(exc)) from None


async def list_domain_blocks(request: Request) -> Response:
    """Every blocked domain, newest first, paged by id."""
    await authenticate_moderator(request, READ)
    page = page_of(request, default=100, maximum=200)
    async with request.state.pool.acquire() as conn:
        found = await block_queries.domain_blocks_page(conn, page.max_id, page.since_id, page.min_id, page.limit)
    return JSONResponse([render_domain_block(b) for b in found], headers=link_header(request, [b.id for b in found], page))


async def get_domain_block(request: Request) -> Response:
    """One domain block."""
    await authenticate_moderator(request, READ)
    async with request.state.pool.acquire() as conn:
        block = await block_queries.domain_block(conn, block_id=_block_id(request))
    if block is None:
        raise NotFoundError(RECORD_NOT_FOUND)
    return JSONResponse(render_domain_block(block))


async def create_domain_block(request: Request) -> Response:
    """Block a domain (and its subdomains); 422 when it is malformed or blocked already."""
    await authenticate_moderator(request, WRITE)
    params = await all_params(request)
    domain = text_param(params, "domain")
    if not domain or not domain.strip():
        raise Unprocessable("Validation failed: Domain can't be blank")
    public, private = _comments(params)
    settings = request.state.settings
    async with request.state.pool.acquire() as conn:
        try:
            block, _ = await blocks.block_domain(conn, domain, public, private, local_domain=settings.domain)
        except ValidationError as exc:
            raise Unprocessable(str(exc)) from None
        except Conflict as exc:
            existing = await block_queries.domain_block(conn, domain=blocks.normalize_domain(domain))
            body = {"error": str(exc), "existing_domain_block": render_domain_block(existing) if existing else None}
            return JSONResponse(body, 422)
    return JSONResponse(render_domain_block(block))


async def update_domain_block(request: Request) -> Response:
    """Change a domain block's comments."""
    await authenticate_moderator(request, WRITE)
    public, private = _comments(await all_params(request))
    async with request.state.pool.acquire() as conn:
        block = await block_queries.update_domain_block(conn, _block_id(request), public, private)
    if block is None:
        raise NotFoundError(RECORD_NOT_FOUND)
    return JSONResponse(render_domain_block(block))


async def delete_domain_block(request: Request) -> Response:
    """Lift a domain block (the follows it removed stay removed)."""
    await authenticate_moderator(request, WRITE)
    async with request.state.pool.acquire() as conn:
        block = await block_queries.delete_domain_block(conn, block_id=_block_id(request))
    if block is None:
        raise NotFoundError(RECORD_NOT_FOUND)
    return JSONResponse({})
