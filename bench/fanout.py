"""Benchmark of fan-out and delivery, on its own embedded PostgreSQL and loopback inbox servers.

    .venv/bin/python bench/fanout.py [--followers 10000] [--hosts 1000] [--servers 4] [--limit 300]

One department; its remote followers are spread over ``--hosts`` host names (``host0042.bench``),
which the HTTP client maps to 127.0.0.1, where a few aiohttp servers (in a separate process, so they
do not share the worker's event loop) answer 202 to every POST and count them. Two scenarios:
every follower's server has a shared inbox (one delivery per host), then none has (one delivery
per follower). Each publishes one activity (fan-out timed on its own), then runs a worker with the
production settings (batches of 100, 50 concurrent deliveries) until the queue is empty, and prints
the time, deliveries per second and the ratio to the raw RSA-2048 sign rate measured in the same run
(each delivery needs one signature). Every scenario is bounded by ``--limit`` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import multiprocessing
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import asyncpg
from aiohttp import web
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository, not bench/

from actors.departments import create_department  # noqa: E402
from actors.validation import department_input  # noqa: E402
from fedi.database import connect, create_pool  # noqa: E402
from fedi.embedded import start_embedded_postgres  # noqa: E402
from fedi.http_client import HttpClient  # noqa: E402
from fedi.migrate import migrate  # noqa: E402
from fedi.settings import Settings, load_settings  # noqa: E402
from fedi.worker import Worker  # noqa: E402
from keys.keypairs import KeyVault  # noqa: E402
from keys.queries import active_key  # noqa: E402
from outbox.deliveries import DeliveryTask  # noqa: E402
from outbox.fanout import enqueue_activity, follower_inboxes  # noqa: E402
from bench.common import Figure, Target, bench_main  # noqa: E402

SECRET = "bench-secret-" + "b" * 40
SIGN_SAMPLES = 3
SIGN_SAMPLE_SECONDS = 0.5
FULL_FOLLOWERS = 10_000
FULL_HOSTS = 1_000


@dataclass(frozen=True)
class Result:
    """One scenario's figures."""

    name: str
    deliveries: int
    fanout_seconds: float
    delivery_seconds: float
    received: int
    states: dict[str, int]


def serve_sinks(servers: int, pipe: Connection) -> None:
    """Child process: run ``servers`` counting inbox servers, send their ports, and on request the count."""
    async def main() -> None:
        count = 0

        async def inbox(request: web.Request) -> web.Response:
            nonlocal count
            await request.read()
            count += 1
            return web.Response(status=202)

        app = web.Application()
        app.router.add_post("/{tail:.*}", inbox)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        ports = []
        for _ in range(servers):
            site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
            await site.start()
            ports.append(runner.addresses[-1][1])
        pipe.send(ports)
        loop = asyncio.get_running_loop()
        while True:
            message = await loop.run_in_executor(None, pipe.recv)
            if message == "stop":
                break
            pipe.send(count)
        await runner.cleanup()

    asyncio.run(main())


async def add_followers(conn: asyncpg.Connection, department_id: int, followers: int, hosts: int, ports: list[int], shared: bool) -> None:
    """``followers`` remote actors on ``hosts`` host names following the department, in two statements."""
    await conn.execute("DELETE FROM actors WHERE NOT local")
    await conn.execute(
        """INSERT INTO actors (uri, local, actor_type, username, domain, inbox_url, shared_inbox_url)
           SELECT 'http://' || h || '/users/u' || i, false, 'Person', 'u' || i, h,
                  'http://' || h || '/users/u' || i || '/inbox', CASE WHEN $4 THEN 'http://' || h || '/inbox' END
           FROM generate_series(1, $1) AS i,
                LATERAL (SELECT format('host%s.bench:%s', lpad((i % $2)::text, 4, '0'),
                                       ($3::int[])[(i % $2) % array_length($3::int[], 1) + 1]) AS h) AS host""",
        followers, hosts, ports, shared,
    )
    await conn.execute(
        """INSERT INTO follows (uri, follower_id, followee_id, state)
           SELECT uri || '#follow', id, $1, 'accepted' FROM actors WHERE NOT local""",
        department_id,
    )


async def scenario(
    name: str, conn: asyncpg.Connection, pool: asyncpg.Pool, http: HttpClient, vault: KeyVault, department_id: int,
    actor_uri: str, shared: bool, args: argparse.Namespace, ports: list[int], pipe: Connection,
) -> Result:
    """Fan out one activity to the followers and deliver it."""
    await add_followers(conn, department_id, args.followers, args.hosts, ports, shared)
    pipe.send("count")
    before = pipe.recv()
    activity = {"id": f"{actor_uri}/posts/{name}/activity", "type": "Create", "actor": actor_uri,
                "object": {"id": f"{actor_uri}/posts/{name}", "type": "Note", "content": "<p>" + "x" * 500 + "</p>"}}
    started = time.perf_counter()
    async with conn.transaction():
        deliveries = await enqueue_activity(
            conn, actor_id=department_id, activity=activity, inboxes=await follower_inboxes(conn, department_id)
        )
    fanned_out = time.perf_counter()
    worker = Worker(pool, [DeliveryTask(pool, http, vault)])
    async with asyncio.timeout(args.limit):
        await worker.run_until_idle(max_rounds=10**6)
    done = time.perf_counter()
    pipe.send("count")
    received = pipe.recv() - before
    rows = await conn.fetch("SELECT state, count(*) FROM deliveries GROUP BY state")
    await conn.execute("DELETE FROM outbox_activities")
    return Result(name, deliveries, fanned_out - started, done - fanned_out, received, {r[0]: r[1] for r in rows})


def sign_rate(private_key: rsa.RSAPrivateKey) -> float:
    """Raw RSA-2048 PKCS#1 v1.5 SHA-256 signatures per second on one core (best of a few samples)."""
    message = b"(request-target): post /inbox\nhost: host0001.bench\ndate: x\ndigest: SHA-256=" + b"x" * 44
    rates = []
    for _ in range(SIGN_SAMPLES):
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < SIGN_SAMPLE_SECONDS:
            private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
            count += 1
        rates.append(count / (time.perf_counter() - started))
    return max(rates)


async def run(args: argparse.Namespace, ports: list[int], pipe: Connection) -> tuple[list[Result], float]:
    """Both scenarios on a fresh embedded database."""
    with tempfile.TemporaryDirectory(prefix="fedi-bench-") as directory:
        url, server = start_embedded_postgres(Path(directory))
        try:
            settings: Settings = load_settings(environ={}, domain="city.example", secret_key=SECRET, database_url=url, data_dir=directory)
            vault = KeyVault(SECRET)
            conn = await connect(url)
            pool = await create_pool(url, max_size=10)
            try:
                await migrate(conn)
                department = await create_department(conn, settings, vault, department_input("library", {"display_name": "Library"}))
                key = await active_key(conn, department.id)
                assert key is not None and key.private_key_encrypted is not None
                rate = sign_rate(vault.decrypt(key.private_key_encrypted))
                static_hosts = {f"host{i:04d}.bench": "127.0.0.1" for i in range(args.hosts)}
                async with HttpClient(
                    (ipaddress.ip_network("127.0.0.0/8"),), user_agent="fedi-bench", static_hosts=static_hosts
                ) as http:
                    results = [
                        await scenario(name, conn, pool, http, vault, department.id, department.uri, shared, args, ports, pipe)
                        for name, shared in (("shared inboxes", True), ("personal inboxes", False))
                    ]
            finally:
                await pool.close()
                await conn.close()
        finally:
            server.cleanup()
    return results, rate


def figures(args: argparse.Namespace, results: list[Result], rate: float) -> list[Figure]:
    """The scenarios' figures: time until all delivered, and the per-follower rate against raw signing."""
    full = args.followers >= FULL_FOLLOWERS and args.hosts >= FULL_HOSTS
    out = []
    for r in results:
        if r.received != r.deliveries or r.states.get("pending", 0):
            raise RuntimeError(f"{r.name}: {r.deliveries} deliveries queued, sinks received {r.received}, states {r.states}")
        seconds = r.fanout_seconds + r.delivery_seconds
        shared = r.name == "shared inboxes"
        note = f"fan-out {r.fanout_seconds:.3f} s + delivery {r.delivery_seconds:.2f} s; {r.deliveries:,} deliveries"
        out.append(Figure(f"fan-out, {r.name} ({args.followers:,} followers, {args.hosts:,} hosts): all delivered",
                          seconds, "s", target=Target(2 if shared else 5, at_least=False), judged=full, note=note))
        if not shared:
            out.append(Figure(f"fan-out, {r.name}: deliveries/s", r.deliveries / seconds, "deliveries/s",
                              "raw RSA-2048 sign/s (one core)", rate, Target(0.5, at_least=True, on_ratio=True)))
    return out


def measure(args: argparse.Namespace) -> list[Figure]:
    """Start the inbox servers, run the scenarios, print them; their figures."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    sinks = context.Process(target=serve_sinks, args=(args.servers, child), daemon=True)
    sinks.start()
    try:
        ports = parent.recv()
        results, rate = asyncio.run(run(args, ports, parent))
    finally:
        parent.send("stop")
        sinks.join(10)
    print(f"raw RSA-2048 signing on one core: {rate:,.0f} signatures/s")
    print(f"{'scenario':<18} {'deliveries':>10} {'fan-out s':>9} {'deliver s':>9} {'per s':>8} {'of sign rate':>12}  states")
    for r in results:
        per_second = r.deliveries / r.delivery_seconds
        states = ", ".join(f"{k} {v}" for k, v in sorted(r.states.items()))
        print(f"{r.name:<18} {r.deliveries:>10,} {r.fanout_seconds:>9.3f} {r.delivery_seconds:>9.2f} "
              f"{per_second:>8,.0f} {per_second / rate:>11.1%}  {states}; sinks received {r.received:,}")
    return figures(args, results, rate)


def main() -> None:
    """Parse the arguments, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=FULL_FOLLOWERS)
    parser.add_argument("--hosts", type=int, default=FULL_HOSTS)
    parser.add_argument("--servers", type=int, default=4, help="inbox servers the host names are spread over")
    parser.add_argument("--limit", type=float, default=300, help="seconds each scenario may take at most")
    bench_main(parser, measure, quick={"followers": 1000, "hosts": 100, "limit": 60})


if __name__ == "__main__":
    main()
