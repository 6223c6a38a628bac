"""Helpers for tests that run the ``fedi`` command as a real process."""

from __future__ import annotations

import asyncio
import inspect
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from dataclasses import dataclass

import aiohttp

FEDI = str(Path(sys.executable).with_name("fedi"))


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_environ(**extra: str) -> dict[str, str]:
    """This process's environment without fedi's settings, plus ``extra``."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FEDI_") and k != "DATABASE_URL"}
    return {**environ, **extra}


@asynccontextmanager
async def fedi_process(*args: str, env: dict[str, str], cwd: Path) -> AsyncIterator[tuple[asyncio.subprocess.Process, list[str]]]:
    """Start ``fedi ARGS`` and stop it with SIGINT afterwards; yields the process and its output lines so far."""
    process = await asyncio.create_subprocess_exec(
        FEDI, *args, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    lines: list[str] = []

    async def read() -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            lines.append(line.decode())

    reader = asyncio.create_task(read())
    try:
        yield process, lines
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 30)
        await reader


async def wait_until_up(http: aiohttp.ClientSession, url: str, lines: list[str], **kwargs: object) -> None:
    """Poll ``url`` until the server answers (30 s at most), showing its output if it never does."""
    for _ in range(300):
        try:
            async with http.get(url, **kwargs) as response:  # type: ignore[arg-type]
                if response.status < 500:
                    return
        except aiohttp.ClientConnectionError:
            await asyncio.sleep(0.1)
    raise AssertionError("server did not come up:\n" + "".join(lines))


@dataclass(frozen=True)
class Result:
    """What one run of the command printed and returned."""

    status: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        """Standard output, line by line."""
        return self.out.splitlines()


async def run_fedi(*args: str, env: dict[str, str], cwd: Path, stdin: str | None = None) -> Result:
    """Run ``fedi ARGS`` to completion."""
    process = await asyncio.create_subprocess_exec(
        FEDI, *args, env=env, cwd=cwd, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(None if stdin is None else stdin.encode())
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


def refused(result: Result, message: str) -> None:
    """The command failed with status 2, saying why on stderr and nothing on stdout."""
    assert result.status == 2, result
    assert f"fedi: error: {message}" in result.err, result.err
    assert result.out == ""


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]], message: str, *, lines: list[str] | None = None, deadline: float = 60.0
) -> None:
    """Poll ``condition`` (plain or async) until it holds; fail with ``message`` (and a process's output) after ``deadline`` s."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > end:
            raise AssertionError(message + ("" if lines is None else ":\n" + "".join(lines[-60:])))
        await asyncio.sleep(0.02)
