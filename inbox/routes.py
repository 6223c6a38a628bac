"""Inbox endpoints: each department's personal inbox, the shared inbox and the instance actor's inbox.

Every one runs the same pipeline (``inbox.pipeline.receive``); a personal inbox first checks that the
department exists, and records it as the activity's recipient.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.queries import local_actor_by_username
from fedi.responses import error_response
from inbox.pipeline import InboxLimits, outcome_response, receive


def build_routes(limits: InboxLimits = InboxLimits()) -> list[Route]:
    """The inbox routes, accepting what ``limits`` allows."""

    async def department_inbox(request: Request) -> Response:
        """``POST /users/{username}/inbox``: an activity addressed to one department."""
        username = request.path_params["username"]
        async with request.state.pool.acquire() as conn:
            department = await local_actor_by_username(conn, username)
        if department is None:
            return error_response(404, f"no department named {username!r}")
        return outcome_response(await receive(request, department.id, limits))

    async def shared_inbox(request: Request) -> Response:
        """``POST /inbox`` (and the instance actor's inbox): an activity for any of our actors."""
        return outcome_response(await receive(request, None, limits))

    return [
        Route("/users/{username}/inbox", department_inbox, methods=["POST"]),
        Route("/inbox", shared_inbox, methods=["POST"]),
        Route("/actor/inbox", shared_inbox, methods=["POST"]),
    ]


routes = build_routes()
