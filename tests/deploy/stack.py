"""A production-shaped fedi on loopback: nginx with TLS in front of two ``fedi serve --no-worker``
processes, two ``fedi worker`` processes and one PostgreSQL database, all real processes.

The instance is ``https://city.example:<port>``; clients of the test reach every name at 127.0.0.1.
The fedi processes reach the peer and the follower sinks by IP address on loopback
(``FEDI_ALLOW_PRIVATE_NETWORKS=127.0.0.0/8``) and trust the test CA through ``SSL_CERT_FILE``.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import trustme
from aiohttp.abc import AbstractResolver, ResolveResult

from tests.deploy.nginx import running_nginx
from tests.deploy.rendering import Site
from tests.processes import Result, clean_environ, fedi_process, free_port, run_fedi, wait_until_up

DOMAIN = "city.example"
WEB_PROCESSES = 2
WORKER_PROCESSES = 2


class LoopbackResolver(AbstractResolver):
    """Every name is 127.0.0.1 (the test client's view of city.example)."""

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        """127.0.0.1, whatever ``host`` is."""
        flags = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV
        return [ResolveResult(hostname=host, host="127.0.0.1", port=port, family=socket.AF_INET, proto=0, flags=flags)]

    async def close(self) -> None:
        """Nothing to release."""


@dataclass
class Stack:
    """The running instance: its public URL, its processes' output, and a way to run ``fedi`` commands."""

    site: Site
    database_url: str
    env: dict[str, str]
    workdir: Path
    logs: dict[str, list[str]]

    @property
    def base_url(self) -> str:
        """``https://city.example:<port>``: the public origin, through nginx."""
        return f"https://{DOMAIN}:{self.site.https_port}"

    async def fedi(self, *args: str) -> Result:
        """Run ``fedi ARGS`` with the instance's settings."""
        return await run_fedi(*args, env=self.env, cwd=self.workdir)

    def output(self) -> str:
        """Every process's output so far (for failure messages)."""
        return "\n".join(f"--- {name}\n{''.join(lines)}" for name, lines in self.logs.items())


def client_session(ca: trustme.CA, **kwargs: Any) -> aiohttp.ClientSession:
    """An HTTP client that trusts the test CA and finds every name on 127.0.0.1."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    connector = aiohttp.TCPConnector(ssl=context, resolver=LoopbackResolver(), use_dns_cache=False)
    return aiohttp.ClientSession(connector=connector, **kwargs)


@asynccontextmanager
async def running_stack(database_url: str, ca: trustme.CA, workdir: Path, secret: str) -> AsyncIterator[Stack]:
    """Start the fedi processes, then nginx in front of them; stop everything afterwards."""
    cert = ca.issue_cert(DOMAIN)
    chain, key, bundle = workdir / "fullchain.pem", workdir / "privkey.pem", workdir / "test-ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(chain))
    cert.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(bundle))
    backends = tuple(free_port() for _ in range(WEB_PROCESSES))
    site = Site(free_port(), free_port(), backends, chain, key, workdir / "data", workdir / "nginx")
    env = clean_environ(
        DATABASE_URL=database_url, FEDI_DOMAIN=f"{DOMAIN}:{site.https_port}", FEDI_SECRET_KEY=secret,
        FEDI_DATA_DIR=str(site.data_dir), FEDI_ALLOW_PRIVATE_NETWORKS="127.0.0.0/8", SSL_CERT_FILE=str(bundle),
        FEDI_LOG_FORMAT="text",
    )
    stack = Stack(site, database_url, env, workdir, {})
    async with AsyncExitStack() as processes:
        starting: list[Awaitable[None]] = []
        for port in backends:
            _, lines = await processes.enter_async_context(
                fedi_process("serve", "--no-worker", "--port", str(port), env=env, cwd=workdir)
            )
            stack.logs[f"fedi serve :{port}"] = lines
            starting.append(_web_up(port, lines))
        for number in range(1, WORKER_PROCESSES + 1):
            _, lines = await processes.enter_async_context(fedi_process("worker", env=env, cwd=workdir))
            stack.logs[f"fedi worker {number}"] = lines
            starting.append(_printed(lines, "fedi worker is running"))
        await asyncio.gather(*starting)
        await processes.enter_async_context(running_nginx(site))
        yield stack


async def _web_up(port: int, lines: list[str]) -> None:
    async with aiohttp.ClientSession() as http:
        await wait_until_up(http, f"http://127.0.0.1:{port}/healthz", lines)


async def _printed(lines: list[str], text: str) -> None:
    await eventually(lambda: any(text in line for line in lines), f"a process printing {text!r}", lambda: "".join(lines))


async def eventually(
    check: Callable[[], Any], what: str, context: Callable[[], str] = lambda: "", attempts: int = 600
) -> Any:
    """Poll ``check`` (sync or async) every 0.1 s until it returns something truthy; fail saying ``what`` never happened."""
    for _ in range(attempts):
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} did not happen\n{context()}")
