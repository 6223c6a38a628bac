"""The OAuth 2 routes: application registration, the authorization pages, tokens and metadata."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from api.oauth import apps, authorize, metadata, token

routes: list[BaseRoute] = [
    Route("/api/v1/apps", apps.create_app, methods=["POST"]),
    Route("/api/v1/apps/verify_credentials", apps.verify_app, methods=["GET"]),
    Route("/oauth/authorize", authorize.authorize_page, methods=["GET"]),
    Route("/oauth/authorize", authorize.decide, methods=["POST"]),
    Route("/oauth/login", authorize.login, methods=["POST"]),
    Route("/oauth/department", authorize.choose_department, methods=["POST"]),
    Route("/oauth/token", token.token, methods=["POST"]),
    Route("/oauth/revoke", token.revoke, methods=["POST"]),
    Route("/.well-known/oauth-authorization-server", metadata.authorization_server, methods=["GET"]),
]
