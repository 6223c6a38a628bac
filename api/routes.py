"""Every client API route, gathered from the API's subpackages."""

from __future__ import annotations

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []
