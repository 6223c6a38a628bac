"""``/api/v1/follow_requests``: the acting department's pending follow requests, approved or refused.

The id in the path is the requesting account's. Approving queues an Accept, refusing a Reject, to the
follower (``outbox.follow_replies``), in the same transaction as the change. Reading needs
``read:follows``; deciding needs ``write:follows`` and the editor or admin role.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from actors.errors import NotFound
from actors.follow_queries import PENDING, follow_between
from actors.follows import approve_follow, reject_follow
from actors.remote_queries import actor_by_id
from api.accounts import queries
from api.accounts.entities import RelationshipFlags, render_relationship
from api.accounts.loading import find_account, render_accounts
from api.auth import authenticate
from api.errors import NotFoundError
from api.pagination import link_header, page_of
from fedi.responses import JSONResponse
from outbox.follow_replies import send_accept, send_reject
from outbox.queries import received_activity

NO_REQUEST = "Record not found"


async def list_requests(request: Request) -> Response:
    """The accounts asking to follow the department, newest request first."""
    auth = await authenticate(request, "read:follows")
    assert auth.actor_id is not None
    page = page_of(request, default=40, maximum=80)
    async with request.state.pool.acquire() as conn:
        rows = await queries.follow_page(conn, auth.actor_id, "followers", PENDING, page)
        accounts = await render_accounts(conn, request.state.settings.base_url, [a for _, a in rows])
    return JSONResponse(accounts, headers=link_header(request, [follow_id for follow_id, _ in rows], page))


async def _decide(request: Request, approve: bool) -> Response:
    auth = await authenticate(request, "write:follows")
    auth.require_role("editor")
    assert auth.actor_id is not None
    settings = request.state.settings
    async with request.state.pool.acquire() as conn:
        async with conn.transaction():
            follower = await find_account(conn, request.path_params["id"])
            department = await actor_by_id(conn, auth.actor_id)
            follow = await follow_between(conn, follower.id, auth.actor_id)
            if department is None or follow is None or follow.state != PENDING:
                raise NotFoundError(NO_REQUEST)
            activity = await received_activity(conn, follow.uri)
            try:
                if approve:
                    await approve_follow(conn, department, follower.uri)
                    await send_accept(conn, settings, department, follower, follow.uri, activity)
                else:
                    await reject_follow(conn, department, follower.uri)
                    await send_reject(conn, settings, department, follower, follow.uri, activity)
            except NotFound:
                raise NotFoundError(NO_REQUEST) from None
            flags = await queries.relationships(conn, auth.actor_id, [follower.id])
    return JSONResponse(render_relationship(flags[0] if flags else RelationshipFlags(follower.id)))


async def authorize_request(request: Request) -> Response:
    """Accept a follow request; answer the Relationship, now ``followed_by``."""
    return await _decide(request, approve=True)


async def reject_request(request: Request) -> Response:
    """Refuse a follow request."""
    return await _decide(request, approve=False)
