"""``POST /api/v1/apps`` and ``GET /api/v1/apps/verify_credentials``: client applications.

Registration is open, as on Mastodon: an application by itself can do nothing until a staff member
authorizes it. Its secret is shown once and stored only as a hash. fedi sends no Web Push, so no
``vapid_key`` is given.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from api.auth import authenticate
from api.errors import Unauthorized
from api.oauth import queries
from api.oauth.params import body_params
from api.oauth.queries import Application
from api.oauth.registration import app_input
from api.tokens import hash_secret, new_secret
from fedi.responses import JSONResponse


def render_application(app: Application) -> dict[str, Any]:
    """Mastodon's Application entity (without credentials)."""
    return {
        "id": str(app.id),
        "name": app.name,
        "website": app.website,
        "scopes": app.scopes.split(),
        "redirect_uri": "\n".join(app.redirect_uris),
        "redirect_uris": list(app.redirect_uris),
    }


def render_credential_application(app: Application, client_secret: str) -> dict[str, Any]:
    """Mastodon's CredentialApplication: the Application with its client id and (only now) its secret."""
    return {
        **render_application(app),
        "client_id": app.client_id,
        "client_secret": client_secret,
        "client_secret_expires_at": 0,
    }


async def create_app(request: Request) -> Response:
    """Register an application; 422 names what is wrong with the input."""
    data = app_input(await body_params(request))
    secret = new_secret()
    async with request.state.pool.acquire() as conn:
        app = await queries.insert_application(
            conn, data.name, data.website, list(data.redirect_uris), data.scopes, new_secret(), hash_secret(secret)
        )
    return JSONResponse(render_credential_application(app, secret), headers={"Cache-Control": "no-store"})


async def verify_app(request: Request) -> Response:
    """The application a token (user or app-only) was issued to."""
    auth = await authenticate(request, user=False)
    app = None
    if auth.application_id is not None:
        async with request.state.pool.acquire() as conn:
            app = await queries.application_by_id(conn, auth.application_id)
    if app is None:
        raise Unauthorized("The access token was not issued to an application")
    return JSONResponse(render_application(app))
