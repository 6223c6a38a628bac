"""GET /api/v1/timelines/home with 40 statuses, as a staff member's app loads it.

    .venv/bin/python bench/timeline.py [--seconds 5] [--rounds 2] [--connections 16]

``fedi serve --no-worker`` runs as a real process on its own embedded PostgreSQL. The department has
its own public posts and citizens' replies to them (from distinct remote accounts, as the inbox
stores them); an editor's bearer token asks for ``limit=40``, and the first answer must list 40
statuses. A hello-world Starlette app served by uvicorn with the same flags is measured in the same
rounds as the baseline (for the ratio; the target is absolute). Client and rounds as in
bench/requests.py.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import asyncpg

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository, not bench/

from actors.departments import create_department  # noqa: E402
from actors.queries import LocalActor  # noqa: E402
from actors.remote_documents import parse_actor  # noqa: E402
from actors.remote_queries import upsert_remote_actor  # noqa: E402
from actors.staff import add_staff, grant_membership  # noqa: E402
from actors.validation import department_input  # noqa: E402
from api.tokens import issue_token  # noqa: E402
from bench.common import (  # noqa: E402
    CpuMeter, Figure, Load, Target, bench_main, descendants, embedded_database, fedi_server, hello_world_server,
    postgres_pids, throughputs,
)
from fedi.assembly import open_services  # noqa: E402
from fedi.database import connect  # noqa: E402
from fedi.migrate import migrate  # noqa: E402
from fedi.settings import load_settings  # noqa: E402
from inbox.queries import RemotePost, insert_remote_post  # noqa: E402
from keys.keypairs import KeyVault  # noqa: E402
from outbox.posts import publish_post  # noqa: E402

SECRET = "bench-secret-" + "t" * 40
DOMAIN = "city.example"
STATUSES = 40
PATH = f"/api/v1/timelines/home?limit={STATUSES}"
TARGET = Target(1000, at_least=True)


async def citizen_reply(conn: asyncpg.Connection, parent_id: int, parent_uri: str, n: int) -> None:
    """A citizen's reply to a department post, stored as the inbox stores it."""
    uri = f"https://social{n % 5}.example/users/citizen{n}"
    author = await upsert_remote_actor(conn, parse_actor({
        "id": uri, "type": "Person", "preferredUsername": f"citizen{n}", "name": f"Citizen {n}",
        "inbox": f"{uri}/inbox", "url": f"https://social{n % 5}.example/@citizen{n}",
    }))
    note = f"{uri}/statuses/{n}"
    when = datetime.now(timezone.utc) - timedelta(minutes=STATUSES - n)
    post = RemotePost(note, "Note", note, parent_uri, "public", f"<p>Is this also on Sundays? ({n})</p>", "", False,
                      "en", ["https://www.w3.org/ns/activitystreams#Public"], [], [], [], when, None)
    if await insert_remote_post(conn, post, author.id, parent_id) is None:
        raise RuntimeError(f"reply {note} was not stored")


async def prepare(directory: Path, database_url: str, replies: int) -> str:
    """The department, its posts and the citizens' replies (40 statuses in all); an editor's token."""
    settings = load_settings(environ={}, domain=DOMAIN, secret_key=SECRET, database_url=database_url, data_dir=str(directory))
    conn = await connect(database_url)
    try:
        await migrate(conn)
        department: LocalActor = await create_department(conn, settings, KeyVault(SECRET), department_input(
            "library", {"display_name": "City Library", "summary": "Books, reading rooms, events for all ages."}))
        async with open_services(settings, database_url, pool_size=2) as services:
            for n in range(STATUSES - replies):
                post = await publish_post(conn, services.resolver, settings, department,
                                          f"Update {n}: story time at 10:00 on Saturday. #library https://city.example/events/{n}")
                if n < replies:
                    await citizen_reply(conn, post.id, post.uri, n)
        staff = await add_staff(conn, "anna", "Anna")
        await grant_membership(conn, "anna", "library", "editor")
        token = await issue_token(conn, scopes="read write follow", staff_id=staff.id, actor_id=department.id)
        return token.access_token
    finally:
        await conn.close()


async def check(port: int, headers: dict[str, str]) -> None:
    """The home timeline must answer 200 with 40 statuses."""
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}{PATH}", headers=headers) as response:
            body = await response.json(content_type=None)
            if response.status != 200 or not isinstance(body, list) or len(body) != STATUSES:
                raise RuntimeError(f"GET {PATH} answered {response.status} with {str(body)[:300]}")


async def run(args: argparse.Namespace) -> list[Figure]:
    """Prepare, serve, measure."""
    with embedded_database() as (directory, database_url):
        token = await prepare(directory, database_url, args.replies)
        headers = {"Authorization": f"Bearer {token}"}
        async with fedi_server(directory, database_url, DOMAIN, SECRET) as (fedi, port), \
                hello_world_server() as (hello, hello_port):
            await check(port, headers)
            loads = {
                "hello world": (Load(hello_port, "/", {}, args.connections, args.warmup, args.seconds),
                                CpuMeter({"hello": lambda: [hello.pid]})),
                "home timeline": (Load(port, PATH, headers, args.connections, args.warmup, args.seconds),
                                  CpuMeter({"fedi": lambda: descendants(fedi.pid), "postgres": lambda: postgres_pids(directory)})),
            }
            best = await throughputs(loads, args.rounds)
    timeline, baseline = best["home timeline"], best["hello world"]
    return [Figure(f"GET /api/v1/timelines/home ({STATUSES} statuses)", timeline.rate, "req/s",
                   "hello-world Starlette req/s", baseline.rate, TARGET,
                   note=f"{timeline.describe()}; {args.replies} of the {STATUSES} are citizens' replies")]


def measure(args: argparse.Namespace) -> list[Figure]:
    """The figures of this bench."""
    return asyncio.run(run(args))


def main() -> None:
    """Parse the arguments, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=10, help=f"how many of the {STATUSES} statuses are citizens' replies")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per URL and round")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of load before each measurement")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections of the load client")
    bench_main(parser, measure, quick={"seconds": 2.0, "rounds": 1, "warmup": 0.5})


if __name__ == "__main__":
    main()
