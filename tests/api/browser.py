"""A small browser for the authorization pages: reads their forms and submits them as a person would."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp

OOB = "urn:ietf:wg:oauth:2.0:oob"


@dataclass
class Form:
    """One ``<form>``: where it posts, its inputs, its radio choices and its submit buttons."""

    action: str
    fields: dict[str, str] = field(default_factory=dict)
    radios: dict[str, list[str]] = field(default_factory=dict)
    buttons: list[tuple[str, str]] = field(default_factory=list)

    def values(self, button: str | None = None, **chosen: str) -> dict[str, str]:
        """The fields as submitted: inputs, ``chosen`` values, and the named submit button's value."""
        values = {**self.fields, **chosen}
        if button is not None:
            names = [name for name, value in self.buttons if value == button]
            assert names, f"no submit button {button!r} in {self.buttons}"
            values[names[0]] = button
        return values


class PageParser(HTMLParser):
    """Collects the forms of a page and the value of the readonly code field."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self.code: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Note forms, their inputs and buttons, and the code field."""
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(a.get("action", "")))
        elif tag == "input" and a.get("id") == "code":
            self.code = a.get("value")
        elif tag == "input" and self.forms and a.get("name"):
            kind = a.get("type", "text")
            if kind == "radio":
                self.forms[-1].radios.setdefault(a["name"], []).append(a.get("value", ""))
                if "checked" in a:
                    self.forms[-1].fields[a["name"]] = a.get("value", "")
            else:
                self.forms[-1].fields[a["name"]] = a.get("value", "")
        elif tag == "button" and self.forms and a.get("name"):
            self.forms[-1].buttons.append((a["name"], a.get("value", "")))


def parse_page(html: str) -> PageParser:
    """The forms (and code) of a page."""
    parser = PageParser()
    parser.feed(html)
    return parser


def browser() -> aiohttp.ClientSession:
    """A session that keeps cookies even for 127.0.0.1, as a browser does for the page's host."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


@dataclass(frozen=True)
class Outcome:
    """How an authorization ended: a redirect (its query) or a page (its status and text)."""

    status: int
    location: str | None
    text: str

    @property
    def query(self) -> dict[str, str]:
        """The redirect's query parameters."""
        assert self.location is not None, self.text
        return {k: v[0] for k, v in parse_qs(urlsplit(self.location).query).items()}

    @property
    def code(self) -> str:
        """The authorization code, from the redirect or from the out-of-band page."""
        if self.location is not None:
            return self.query["code"]
        shown = parse_page(self.text).code
        assert shown, self.text
        return shown


async def open_authorize(session: aiohttp.ClientSession, server: str, **params: str) -> tuple[int, str, Form | None]:
    """GET /oauth/authorize; the status, the page and its form (if any)."""
    return await open_url(session, f"{server}/oauth/authorize?{urlencode(params)}")


async def open_url(session: aiohttp.ClientSession, url: str) -> tuple[int, str, Form | None]:
    """GET an authorization URL as an application hands it out; the status, the page and its form."""
    async with session.get(url, allow_redirects=False) as response:
        text = await response.text()
        forms = parse_page(text).forms
        return response.status, text, forms[0] if forms else None


async def submit(session: aiohttp.ClientSession, server: str, form: Form, values: dict[str, str],
                 headers: dict[str, str] | None = None) -> tuple[int, str, str | None, Form | None]:
    """POST a form; the status, the page, the redirect location and the next form (if any)."""
    async with session.post(f"{server}{form.action}", data=values, allow_redirects=False, headers=headers) as response:
        text = await response.text()
        forms = parse_page(text).forms
        return response.status, text, response.headers.get("Location"), forms[0] if forms else None


async def authorize(
    session: aiohttp.ClientSession, server: str, client_id: str, username: str, password: str, *,
    redirect_uri: str = OOB, scope: str = "read write follow", department: int | None = None,
    decision: str = "approve", **extra: str,
) -> Outcome:
    """Fill the login, (department) and consent forms for a request made of these parameters."""
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "scope": scope, **extra}
    url = f"{server}/oauth/authorize?{urlencode(params)}"
    return await authorize_url(session, url, username, password, department=department, decision=decision)


async def authorize_url(
    session: aiohttp.ClientSession, url: str, username: str, password: str, *, department: int | None = None,
    decision: str = "approve",
) -> Outcome:
    """Open an authorization URL and fill the login, (department) and consent forms; return how it ended."""
    parts = urlsplit(url)
    server = f"{parts.scheme}://{parts.netloc}"
    status, text, form = await open_url(session, url)
    assert status == 200 and form is not None and form.action == "/oauth/login", text
    status, text, location, form = await submit(session, server, form, form.values(username=username, password=password))
    if form is not None and form.action == "/oauth/department":
        choice = str(department) if department is not None else form.fields["department"]
        status, text, location, form = await submit(session, server, form, form.values(department=choice))
    if form is None or form.action != "/oauth/authorize":
        return Outcome(status, location, text)
    status, text, location, _ = await submit(session, server, form, form.values(button=decision))
    return Outcome(status, location, text)
