"""The authorization pages a staff member sees: login, department choice, consent, out-of-band code, errors.

Every page is uncacheable, cannot be framed (the consent button must not be clickjacked) and sends
no Referer onwards.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import HTMLResponse

from actors.queries import Membership
from api.oauth.authorization import AuthorizationRequest
from api.oauth.queries import Application
from fedi.templating import render_page

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
SCOPE_DESCRIPTIONS = {
    "read": "read all of the department's data",
    "write": "change the department's data and post as the department",
    "follow": "manage the department's follows, blocks and mutes",
    "push": "receive push notifications",
    "profile": "read only the department's profile",
}


def describe_scopes(scope: str) -> list[tuple[str, str]]:
    """Each requested scope with what it allows, in words."""
    described = []
    for name in scope.split():
        if name in SCOPE_DESCRIPTIONS:
            described.append((name, SCOPE_DESCRIPTIONS[name]))
        else:
            verb, _, noun = name.partition(":")
            described.append((name, f"{'read' if verb == 'read' else 'change'} the department's {noun}"))
    return described


def page(template: str, status: int = 200, headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    """An authorization page with the protective headers."""
    return render_page(template, status, {**PAGE_HEADERS, **(headers or {})}, **context)


def message_page(heading: str, text: str, status: int, headers: dict[str, str] | None = None) -> HTMLResponse:
    """A page that only says something (errors, refusals)."""
    return page("message.html", status, headers, heading=heading, text=text)


def login_page(
    app: Application, request: AuthorizationRequest, csrf: str, domain: str, *, error: str | None = None,
    username: str = "",
) -> HTMLResponse:
    """The login form, carrying the authorization request in hidden fields."""
    return page(
        "oauth_login.html", app_name=app.name, request_fields=request.fields(), csrf_token=csrf, domain=domain,
        error=error, username=username,
    )


def department_page(
    app: Application, ticket: str, csrf: str, domain: str, staff_username: str, choices: list[Membership],
    error: str | None = None,
) -> HTMLResponse:
    """The choice of the department the application will act as."""
    return page(
        "oauth_department.html", 400 if error else 200, app_name=app.name, ticket=ticket, csrf_token=csrf,
        domain=domain, staff_username=staff_username, choices=choices, error=error,
    )


def consent_page(
    app: Application, ticket: str, csrf: str, domain: str, membership: Membership, scope: str
) -> HTMLResponse:
    """The question whether to authorize the application, naming the department, the login and the scopes."""
    return page(
        "oauth_consent.html", app_name=app.name, app_website=app.website, ticket=ticket, csrf_token=csrf,
        department_handle=f"@{membership.department}@{domain}", staff_username=membership.staff_username,
        role=membership.role, scopes=describe_scopes(scope),
    )


def code_page(app: Application, code: str) -> HTMLResponse:
    """The authorization code shown for the out-of-band redirect URI."""
    return page("oauth_code.html", app_name=app.name, code=code)
