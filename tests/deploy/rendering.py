"""The shipped deployment files, rendered for a test machine: the same text with the site's paths and ports swapped.

Each substitution must find what it replaces, so a change to a shipped file that the renderer no
longer understands fails loudly instead of testing something else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SHIPPED_FEDI = "/opt/fedi/venv/bin/fedi"


class RenderError(AssertionError):
    """A shipped file no longer contains what the renderer substitutes."""


def substitute(text: str, pattern: str, replacement: str, *, literal: bool = True) -> str:
    """Replace every occurrence of ``pattern`` (a string, or a regex when ``literal`` is false); it must occur."""
    regex = re.escape(pattern) if literal else pattern
    result, count = re.subn(regex, lambda _: replacement, text, flags=re.MULTILINE)
    if count == 0:
        raise RenderError(f"the shipped file no longer contains {pattern!r}")
    return result


@dataclass(frozen=True)
class Site:
    """Where a test instance lives: loopback ports, a test certificate and directories under a temp prefix."""

    https_port: int
    http_port: int
    backends: tuple[int, ...]
    certificate: Path
    private_key: Path
    data_dir: Path
    prefix: Path


def render_nginx_site(site: Site) -> str:
    """deploy/nginx/fedi.conf with the test's ports, backends, certificate and directories."""
    text = (DEPLOY / "nginx" / "fedi.conf").read_text(encoding="utf-8")
    text = substitute(text, r"^[ \t]*listen \[::\]:\d+.*\n", "", literal=False)  # loopback IPv4 only
    text = substitute(text, r"listen 443(?=[ ;])", f"listen 127.0.0.1:{site.https_port}", literal=False)
    text = substitute(text, r"listen 80(?=[ ;])", f"listen 127.0.0.1:{site.http_port}", literal=False)
    servers = "".join(f"    server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;\n" for port in site.backends)
    text = substitute(text, r"(^    server 127\.0\.0\.1:\d+ .*\n)+", servers, literal=False)
    text = substitute(text, "/etc/letsencrypt/live/city.example/fullchain.pem", str(site.certificate))
    text = substitute(text, "/etc/letsencrypt/live/city.example/privkey.pem", str(site.private_key))
    text = substitute(text, "/var/cache/nginx/fedi", str(site.prefix / "cache"))
    text = substitute(text, "/var/log/nginx/", f"{site.prefix}/logs/")
    return substitute(text, "root /var/lib/fedi;", f"root {site.data_dir};")


def render_unit(name: str, fedi: Path) -> str:
    """A shipped systemd unit with ExecStart pointing at ``fedi`` (the installed command)."""
    text = (DEPLOY / "systemd" / name).read_text(encoding="utf-8")
    return substitute(text, SHIPPED_FEDI, str(fedi)) if name.endswith(".service") else text
