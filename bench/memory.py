"""Idle memory of ``fedi serve --no-worker`` plus ``fedi worker``, started as real processes.

    .venv/bin/python bench/memory.py [--settle 3]

Both run on their own embedded PostgreSQL (its memory is not counted: a production deployment has
its own database server). After start-up, a few requests of each kind a server answers (actor,
WebFinger, NodeInfo, outbox, a department's page, the front page) and ``--settle`` seconds of
quiet, the resident set sizes are read from /proc for each process and its children. The
baseline is the RSS of two hello-world Starlette apps served by uvicorn, read the same way.
Also shown: proportional set sizes (shared pages divided) and ``fedi serve`` running its worker
in-process, as a small deployment does.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import aiohttp

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository, not bench/

from actors.departments import create_department  # noqa: E402
from actors.validation import department_input  # noqa: E402
from bench.common import (  # noqa: E402
    FEDI, Figure, Target, bench_main, descendants, embedded_database, fedi_environment, free_port,
    hello_world_server, pss_bytes, rss_bytes, running,
)
from fedi.database import connect  # noqa: E402
from fedi.migrate import migrate  # noqa: E402
from fedi.settings import load_settings  # noqa: E402
from keys.keypairs import KeyVault  # noqa: E402

SECRET = "bench-secret-" + "m" * 40
DOMAIN = "city.example"
MB = 1024 * 1024
TARGET = Target(120, at_least=False)
PATHS = (
    ("/users/library", {"Accept": "application/activity+json"}),
    (f"/.well-known/webfinger?resource=acct:library@{DOMAIN}", {}),
    ("/.well-known/nodeinfo", {}),
    ("/users/library/outbox?page=true", {"Accept": "application/activity+json"}),
    ("/@library", {"Accept": "text/html"}),
    ("/", {"Accept": "text/html"}),
)


def memory(pid: int) -> tuple[int, int]:
    """RSS and PSS in bytes of ``pid`` and its children."""
    tree = descendants(pid)
    return sum(rss_bytes(p) for p in tree), sum(pss_bytes(p) for p in tree)


async def exercise(port: int, rounds: int = 5) -> None:
    """A few requests of each kind; each must answer 200."""
    async with aiohttp.ClientSession() as http:
        for _ in range(rounds):
            for path, headers in PATHS:
                async with http.get(f"http://127.0.0.1:{port}{path}", headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"GET {path} answered {response.status}")


async def prepare(directory: Path, database_url: str) -> None:
    """Migrate and create the department the requests ask for."""
    settings = load_settings(environ={}, domain=DOMAIN, secret_key=SECRET, database_url=database_url, data_dir=str(directory))
    conn = await connect(database_url)
    try:
        await migrate(conn)
        await create_department(conn, settings, KeyVault(SECRET), department_input("library", {"display_name": "Library"}))
    finally:
        await conn.close()


async def run(args: argparse.Namespace) -> list[Figure]:
    """Start the processes, exercise them, let them settle and read their memory."""
    with embedded_database() as (directory, database_url):
        await prepare(directory, database_url)
        env = fedi_environment(directory, database_url, DOMAIN, SECRET)
        port = free_port()
        async with running(FEDI, "serve", "--no-worker", "--port", str(port), env=env,
                           ready_url=f"http://127.0.0.1:{port}/.well-known/nodeinfo") as serve, \
                running(FEDI, "worker", env=env, ready_line="fedi worker is running") as worker:
            await exercise(port)
            await asyncio.sleep(args.settle)
            (serve_rss, serve_pss), (worker_rss, worker_pss) = memory(serve.pid), memory(worker.pid)
        alone_port = free_port()
        async with running(FEDI, "serve", "--port", str(alone_port), env=env,
                           ready_url=f"http://127.0.0.1:{alone_port}/.well-known/nodeinfo") as alone:
            await exercise(alone_port)
            await asyncio.sleep(args.settle)
            alone_rss, alone_pss = memory(alone.pid)
    async with hello_world_server() as (hello, hello_port):
        async with aiohttp.ClientSession() as http:
            for _ in range(5 * len(PATHS)):
                async with http.get(f"http://127.0.0.1:{hello_port}/") as response:
                    await response.read()
        await asyncio.sleep(args.settle)
        hello_rss, _ = memory(hello.pid)
    print(f"fedi serve --no-worker: RSS {serve_rss / MB:.1f} MB, PSS {serve_pss / MB:.1f} MB")
    print(f"fedi worker:            RSS {worker_rss / MB:.1f} MB, PSS {worker_pss / MB:.1f} MB")
    print(f"fedi serve (worker in-process): RSS {alone_rss / MB:.1f} MB, PSS {alone_pss / MB:.1f} MB")
    print(f"hello-world uvicorn:    RSS {hello_rss / MB:.1f} MB")
    baseline = "2 hello-world uvicorn MB"
    return [
        Figure("idle RSS, fedi serve + fedi worker", (serve_rss + worker_rss) / MB, "MB", baseline, 2 * hello_rss / MB,
               TARGET, note=f"serve {serve_rss / MB:.1f} + worker {worker_rss / MB:.1f} MB; "
                            f"PSS {(serve_pss + worker_pss) / MB:.1f} MB"),
        Figure("idle RSS, fedi serve with in-process worker", alone_rss / MB, "MB", "1 hello-world uvicorn MB",
               hello_rss / MB, note=f"PSS {alone_pss / MB:.1f} MB"),
    ]


def measure(args: argparse.Namespace) -> list[Figure]:
    """The figures of this bench."""
    return asyncio.run(run(args))


def main() -> None:
    """Parse the arguments, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settle", type=float, default=3.0, help="seconds of quiet before reading the memory")
    bench_main(parser, measure, quick={"settle": 1.0})


if __name__ == "__main__":
    main()
