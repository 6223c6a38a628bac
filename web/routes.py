"""The public web routes, listed first in the app.

A department's and a post's addresses answer pages to browsers here and hand ActivityPub requests
to the ``actors`` and ``outbox`` handlers, so both keep working at the same URLs. ``/@{name}.atom``
must be matched before ``/@{name}`` (whose name would otherwise swallow the suffix), and
``/@{name}/archive`` before the day pages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors import routes as actor_routes
from fedi.responses import wants_activity_json
from outbox import routes as outbox_routes
from web import archive, interactions, pages, report, staff
from web.feeds import ATOM, RSS, feed_handler

Handler = Callable[[Request], Awaitable[Response]]


def negotiated(page: Handler, document: Handler) -> Handler:
    """A handler answering ``document`` to ActivityPub clients and ``page`` to everyone else."""

    async def handler(request: Request) -> Response:
        return await (document(request) if wants_activity_json(request) else page(request))

    return handler


_department = negotiated(pages.department_page, actor_routes.department_actor)
_post = negotiated(pages.post_page, outbox_routes.note)

routes = [
    Route("/", pages.front_page, methods=["GET", "HEAD"]),
    Route("/feed.atom", feed_handler(ATOM, organisation=True), methods=["GET", "HEAD"]),
    Route("/feed.rss", feed_handler(RSS, organisation=True), methods=["GET", "HEAD"]),
    Route("/transparency", report.transparency_page, methods=["GET", "HEAD"]),
    Route("/transparency.json", report.transparency_json, methods=["GET", "HEAD"]),
    Route("/follow", interactions.follow, methods=["GET", "HEAD"]),
    Route("/interact", interactions.interact, methods=["GET", "HEAD"]),
    Route("/staff", staff.staff_view, methods=["GET", "HEAD"]),
    Route("/staff/login", staff.login_form, methods=["GET", "HEAD"]),
    Route("/staff/login", staff.login, methods=["POST"]),
    Route("/staff/department", staff.department_form, methods=["GET", "HEAD"]),
    Route("/staff/department", staff.choose_department, methods=["POST"]),
    Route("/staff/logout", staff.logout, methods=["POST"]),
    Route("/staff/reply", staff.reply, methods=["POST"]),
    Route("/users/{username}", _department, methods=["GET", "HEAD"]),
    Route("/users/{username}/statuses/{post_id:int}", _post, methods=["GET", "HEAD"]),
    Route("/@{username}.atom", feed_handler(ATOM, organisation=False), methods=["GET", "HEAD"]),
    Route("/@{username}.rss", feed_handler(RSS, organisation=False), methods=["GET", "HEAD"]),
    Route("/@{username}", _department, methods=["GET", "HEAD"]),
    Route("/@{username}/archive", archive.calendar_page, methods=["GET", "HEAD"]),
    Route("/@{username}/{post_id:int}", _post, methods=["GET", "HEAD"]),
    Route("/@{username}/{day}", archive.day_page, methods=["GET", "HEAD"]),
]
