"""The rules for registering an application (``POST /api/v1/apps``), with Mastodon's error messages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from api.errors import Unprocessable
from api.oauth.params import Params, list_param, text_param
from api.scopes import ScopeError, parse_scopes

OOB = "urn:ietf:wg:oauth:2.0:oob"
MAX_NAME = 60
MAX_WEBSITE = 2000
MAX_REDIRECT_URIS = 2000  # characters, all of them together, as Mastodon counts
# Schemes a browser would run rather than hand to an application.
FORBIDDEN_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "about", "blob"})


@dataclass(frozen=True)
class AppInput:
    """A valid registration."""

    name: str
    website: str | None
    redirect_uris: tuple[str, ...]
    scopes: str


def ordered_scopes(value: str | None, default: str = "read") -> str:
    """Scopes as given (space- or plus-separated), deduplicated in order and checked; ScopeError if unknown."""
    names = list(dict.fromkeys((value or "").replace("+", " ").split())) or default.split()
    parse_scopes(" ".join(names))
    return " ".join(names)


def redirect_uri_error(uri: str) -> str | None:
    """Why ``uri`` cannot be a redirect URI, or None: absolute, no fragment, or the out-of-band URN."""
    if uri == OOB:
        return None
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "Redirect URI must be an absolute URI."
    if not parts.scheme or (parts.scheme in ("http", "https") and not parts.hostname):
        return "Redirect URI must be an absolute URI."
    if parts.scheme.lower() in FORBIDDEN_SCHEMES:
        return "Redirect URI is forbidden by the server."
    if parts.fragment or "#" in uri:
        return "Redirect URI cannot contain a fragment."
    return None


def split_redirect_uris(values: Iterable[str]) -> tuple[str, ...]:
    """Redirect URIs given as a list, or as one string with one per line."""
    uris = [line.strip() for value in values for line in value.splitlines()]
    return tuple(dict.fromkeys(uri for uri in uris if uri))


def app_input(params: Params) -> AppInput:
    """Validate a registration; Unprocessable (422) names the first problem as Mastodon does."""
    name = (text_param(params, "client_name") or "").strip()
    if not name:
        raise Unprocessable("Validation failed: Name can't be blank")
    if len(name) > MAX_NAME:
        raise Unprocessable(f"Validation failed: Name is too long (maximum is {MAX_NAME} characters)")
    uris = split_redirect_uris(list_param(params, "redirect_uris"))
    if not uris:
        raise Unprocessable("Validation failed: Redirect URI can't be blank")
    if sum(len(uri) + 1 for uri in uris) > MAX_REDIRECT_URIS:
        raise Unprocessable(f"Validation failed: Redirect URI is too long (maximum is {MAX_REDIRECT_URIS} characters)")
    for uri in uris:
        problem = redirect_uri_error(uri)
        if problem:
            raise Unprocessable(f"Validation failed: {problem}")
    website = (text_param(params, "website") or "").strip() or None
    if website is not None:
        parts = urlsplit(website)
        if parts.scheme not in ("http", "https") or not parts.netloc or len(website) > MAX_WEBSITE:
            raise Unprocessable("Validation failed: Website is invalid")
    raw_scopes = params.get("scopes")
    if isinstance(raw_scopes, list):
        raw_scopes = " ".join(str(s) for s in raw_scopes)
    try:
        scopes = ordered_scopes(None if raw_scopes is None else str(raw_scopes))
    except ScopeError:
        raise Unprocessable("Validation failed: Scopes doesn't match configured on the server.") from None
    return AppInput(name, website, uris, scopes)
