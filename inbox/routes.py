"""Inbox endpoints: each department's personal inbox, the shared inbox and the instance actor's inbox.

Every one runs the same pipeline (``inbox.pipeline.receive``); a personal inbox first checks that the
department exists, and records it as the activity's recipient. Departments found are remembered for
``DEPARTMENT_CACHE_SECONDS`` (a department deleted meanwhile is stored as no recipient).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.queries import local_actor_by_username
from fedi.caches import TimedCache
from fedi.responses import error_response
from inbox.pipeline import InboxLimits, outcome_response, receive

DEPARTMENT_CACHE_SECONDS = 30.0
DEPARTMENT_CACHE_SIZE = 1024


def build_routes(limits: InboxLimits = InboxLimits()) -> list[Route]:
    """The inbox routes, accepting what ``limits`` allows."""

    async def department_inbox(request: Request) -> Response:
        """``POST /users/{username}/inbox``: an activity addressed to one department."""
        username = request.path_params["username"]
        department_id = await department_id_of(request, username)
        if department_id is None:
            return error_response(404, f"no department named {username!r}")
        return outcome_response(await receive(request, department_id, limits))

    async def shared_inbox(request: Request) -> Response:
        """``POST /inbox`` (and the instance actor's inbox): an activity for any of our actors."""
        return outcome_response(await receive(request, None, limits))

    return [
        Route("/users/{username}/inbox", department_inbox, methods=["POST"]),
        Route("/inbox", shared_inbox, methods=["POST"]),
        Route("/actor/inbox", shared_inbox, methods=["POST"]),
    ]


async def department_id_of(request: Request, username: str) -> int | None:
    """The id of the live department ``username``, from the app's cache or the database."""
    state = request.app.state
    cache: TimedCache[int] | None = getattr(state, "inbox_departments", None)
    if cache is None:
        cache = state.inbox_departments = TimedCache(DEPARTMENT_CACHE_SECONDS, DEPARTMENT_CACHE_SIZE)
    key = username.lower()
    if (found := cache.get(key)) is not None:
        return found
    async with request.state.pool.acquire() as conn:
        department = await local_actor_by_username(conn, username)
    if department is None:
        return None
    cache.put(key, department.id)
    return department.id


routes = build_routes()
