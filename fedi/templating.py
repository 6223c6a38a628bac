"""Jinja2 templates for the human pages, autoescaped."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse

_environment = Environment(
    loader=PackageLoader("fedi", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_page(template: str, status_code: int = 200, headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    """Render ``template`` with ``context`` into an HTML response."""
    return HTMLResponse(_environment.get_template(template).render(**context), status_code, headers)
