"""Jinja2 templates for the human pages, autoescaped."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from starlette.responses import HTMLResponse

if TYPE_CHECKING:
    from jinja2 import Environment


@cache
def _environment() -> Environment:
    """The template environment, made when the first page is rendered (Jinja takes 2 MB a process may never need)."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    return Environment(
        loader=PackageLoader("fedi", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_page(template: str, status_code: int = 200, headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    """Render ``template`` with ``context`` into an HTML response."""
    return HTMLResponse(_environment().get_template(template).render(**context), status_code, headers)
