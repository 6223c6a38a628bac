"""nginx for the deployment tests: find the binary, write a main configuration around the shipped site, run it.

``make test`` provides nginx: the system's when installed, else Debian's package unpacked without
root into ``.venv/nginx`` (``make nginx``). Everything nginx writes (pid, logs, temp files, cache)
goes under the test's prefix directory, so no system path is touched.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from tests.deploy.rendering import Site, render_nginx_site

ROOT = Path(__file__).resolve().parents[2]
UNPACKED = ROOT / ".venv" / "nginx" / "usr" / "sbin" / "nginx"
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def nginx_binary() -> Path:
    """The nginx to test with; fails (never skips) with what to do when there is none."""
    for candidate in (shutil.which("nginx"), "/usr/sbin/nginx", str(UNPACKED)):
        if candidate and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise AssertionError(
        "nginx is needed by the deployment tests and was not found on PATH, in /usr/sbin or in "
        f"{UNPACKED}: run `make nginx` (it unpacks Debian's nginx package there without root) "
        "or install nginx (apt-get install nginx)"
    )


def write_config(site: Site) -> Path:
    """Write the main configuration (temp paths under the prefix) including the rendered site; its path."""
    for name in ("logs", "cache", *(f"temp/{path}" for path in TEMP_PATHS)):
        (site.prefix / name).mkdir(parents=True, exist_ok=True)
    (site.prefix / "fedi.conf").write_text(render_nginx_site(site), encoding="utf-8")
    temp = "".join(f"    {path}_temp_path {site.prefix}/temp/{path};\n" for path in TEMP_PATHS)
    # As root, nginx would hand requests to `nobody`, who cannot read the test's private directories.
    user = "user root root;\n" if os.geteuid() == 0 else ""
    main = (
        f"{user}worker_processes 1;\npid {site.prefix}/nginx.pid;\nerror_log {site.prefix}/logs/error.log;\n"
        "events { worker_connections 512; }\n"
        f"http {{\n    access_log {site.prefix}/logs/access.log;\n{temp}    include {site.prefix}/fedi.conf;\n}}\n"
    )
    path = site.prefix / "nginx.conf"
    path.write_text(main, encoding="utf-8")
    return path


def nginx_command(site: Site, config: Path, *extra: str) -> list[str]:
    """The nginx command line for ``config``, every path under the prefix."""
    return [str(nginx_binary()), "-p", f"{site.prefix}/", "-c", str(config), "-e", f"{site.prefix}/logs/error.log", *extra]


def check_config(site: Site) -> subprocess.CompletedProcess[str]:
    """``nginx -t`` on the rendered configuration."""
    config = write_config(site)
    return subprocess.run(nginx_command(site, config, "-t"), capture_output=True, text=True, timeout=60)


@asynccontextmanager
async def running_nginx(site: Site) -> AsyncIterator[None]:
    """Run nginx in the foreground on the site's ports until the block ends (then stop it gracefully)."""
    config = write_config(site)
    process = await asyncio.create_subprocess_exec(
        *nginx_command(site, config, "-g", "daemon off;"), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        await _wait_for_port(site.http_port, process, site)
        yield
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGQUIT)
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()


async def _wait_for_port(port: int, process: asyncio.subprocess.Process, site: Site) -> None:
    """Poll until nginx answers on ``port`` (30 s at most), showing its error log if it never does."""
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            if process.returncode is not None:
                break
            try:
                async with http.get(f"http://127.0.0.1:{port}/", headers={"Host": "city.example"}, allow_redirects=False):
                    return
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.1)
    log = site.prefix / "logs" / "error.log"
    raise AssertionError("nginx did not start:\n" + (log.read_text() if log.exists() else "(no error log)"))
