"""Every client API route, gathered from the API's subpackages."""

from __future__ import annotations

from starlette.routing import BaseRoute

from api.accounts import routes as account_routes
from api.admin import routes as admin_routes
from api.oauth import routes as oauth_routes
from api.statuses import interactions, media, notifications, scheduled, search, timelines
from api.statuses import routes as status_routes

routes: list[BaseRoute] = []
routes += oauth_routes.routes
routes += account_routes.routes
routes += status_routes.routes + interactions.routes + timelines.routes + notifications.routes
routes += media.routes + search.routes + scheduled.routes
routes += admin_routes.routes
