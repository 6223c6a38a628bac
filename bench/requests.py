"""GETs other servers make (actor document, WebFinger, outbox page) against a hello-world Starlette app.

    .venv/bin/python bench/requests.py [--posts 25] [--seconds 5] [--rounds 2] [--connections 16]

``fedi serve --no-worker`` runs as a real process on its own embedded PostgreSQL with one department
and ``--posts`` public posts; beside it, a hello-world Starlette app is served by uvicorn with the
same flags and logging as ``fedi serve``. One load-generating process (a keep-alive HTTP/1.1 client
with ``--connections`` connections, each sending its next request as soon as the answer is in)
measures each URL in turn for ``--seconds`` after a warm-up; the rounds are interleaved and each
URL keeps its best round. Every answer must be 2xx. The figures are answers per second and their
ratio to the hello-world rate; the notes give each server's CPU time per answer (fedi and
PostgreSQL apart), which depends less on how busy the machine is than the rates do.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

import aiohttp

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository, not bench/ (this file shadows `requests`)

from actors.departments import create_department  # noqa: E402
from actors.validation import department_input  # noqa: E402
from bench.common import (  # noqa: E402
    CpuMeter, Figure, Load, Target, bench_main, descendants, embedded_database, fedi_server, hello_world_server,
    postgres_pids, throughputs,
)
from fedi.assembly import open_services  # noqa: E402
from fedi.database import connect  # noqa: E402
from fedi.migrate import migrate  # noqa: E402
from fedi.settings import load_settings  # noqa: E402
from keys.keypairs import KeyVault  # noqa: E402
from outbox.posts import publish_post  # noqa: E402

SECRET = "bench-secret-" + "r" * 40
DOMAIN = "city.example"
ACTIVITY_JSON = {"Accept": "application/activity+json"}
RATIO_TARGET = Target(0.5, at_least=True, on_ratio=True)


async def prepare(directory: Path, database_url: str, posts: int) -> None:
    """Migrate, create the department and publish its posts."""
    settings = load_settings(environ={}, domain=DOMAIN, secret_key=SECRET, database_url=database_url, data_dir=str(directory))
    conn = await connect(database_url)
    try:
        await migrate(conn)
        department = await create_department(conn, settings, KeyVault(SECRET), department_input(
            "library", {"display_name": "City Library", "summary": "Books, reading rooms, events for all ages.",
                        "fields": [{"name": "Opening hours", "value": "Mon-Fri 9-19"}]}))
        async with open_services(settings, database_url, pool_size=2) as services:
            for n in range(posts):
                await publish_post(conn, services.resolver, settings, department,
                                   f"Update number {n}: the reading room is open until 19:00 today. #library")
    finally:
        await conn.close()


async def check(port: int, path: str, headers: dict[str, str], expect: str) -> None:
    """One GET must answer 200 with a JSON body containing ``expect`` (so the bench measures real answers)."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}{path}", headers=headers) as response:
            body = await response.text()
            if response.status != 200 or expect not in body:
                raise RuntimeError(f"GET {path} answered {response.status}: {body[:300]}")


def urls(posts: int) -> dict[str, tuple[str, dict[str, str], str]]:
    """The measured GETs: name -> (path, headers, text the answer must contain)."""
    return {
        "GET actor document": ("/users/library", ACTIVITY_JSON, '"publicKeyPem"'),
        "GET WebFinger": (f"/.well-known/webfinger?resource=acct:library@{DOMAIN}", {}, '"self"'),
        "GET outbox page": ("/users/library/outbox?page=true", ACTIVITY_JSON,
                            '"orderedItems"'),
    }


async def run(args: argparse.Namespace) -> list[Figure]:
    """Prepare, serve both apps, measure."""
    with embedded_database() as (directory, database_url):
        await prepare(directory, database_url, args.posts)
        async with fedi_server(directory, database_url, DOMAIN, SECRET) as (fedi, port), \
                hello_world_server() as (hello, hello_port):
            gets = urls(args.posts)
            for path, headers, expect in gets.values():
                await check(port, path, headers, expect)
            database = lambda: postgres_pids(directory)  # noqa: E731
            loads = {"hello world": (Load(hello_port, "/", {}, args.connections, args.warmup, args.seconds),
                                     CpuMeter({"hello": lambda: [hello.pid]}))}
            for name, (path, headers, _) in gets.items():
                loads[name] = (Load(port, path, headers, args.connections, args.warmup, args.seconds),
                               CpuMeter({"fedi": lambda: descendants(fedi.pid), "postgres": database}))
            best = await throughputs(loads, args.rounds)
    baseline = best.pop("hello world")
    figures = [Figure(name, measured.rate, "req/s", "hello-world Starlette req/s", baseline.rate, RATIO_TARGET,
                      note=f"{measured.describe()} (hello world: {baseline.cpu_ms['hello']:.2f})")
               for name, measured in best.items()]
    return figures


def measure(args: argparse.Namespace) -> list[Figure]:
    """The figures of this bench."""
    return asyncio.run(run(args))


def main() -> None:
    """Parse the arguments, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=25, help="public posts of the department (the outbox page shows 20)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per URL and round")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of load before each measurement")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections of the load client")
    bench_main(parser, measure, quick={"seconds": 2.0, "rounds": 1, "warmup": 0.5})


if __name__ == "__main__":
    main()
