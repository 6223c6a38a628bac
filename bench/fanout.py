"""Benchmark of fan-out and delivery, on its own embedded PostgreSQL and loopback inbox servers.

    .venv/bin/python bench/fanout.py [--followers 10000] [--hosts 1000] [--workers 2] [--sinks 1] [--servers 4]

One department; its remote followers are spread over ``--hosts`` host names (``host0042.bench``),
which the HTTP client maps to 127.0.0.1, where ``--servers`` minimal HTTP/1.1 inbox servers (in
``--sinks`` processes of their own, so they share no event loop with the workers) answer 202 to
every POST, keep connections alive as remote servers do, and count what they received. Two
scenarios: every follower's server has a shared inbox (one delivery per host), then none has (one
delivery per follower). ``--workers`` delivery worker processes run as ``fedi worker`` does (the
streaming worker loop with the production settings: a window of 100 claimed, 50 concurrent
deliveries, woken by NOTIFY, on uvloop) and wait; each scenario publishes one activity (fan-out timed
on its own) and ends when the database shows every delivery finished. It prints the time, deliveries
per second, the ratio to the raw RSA-2048 sign rate measured in the same run (each delivery needs
one signature) and the CPU time per delivery of the workers, the inbox servers and PostgreSQL.
Every scenario is bounded by ``--limit`` seconds.
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
from typing import cast

import asyncpg
import uvloop
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
from bench.common import CpuMeter, Figure, Target, bench_main, postgres_pids  # noqa: E402

SECRET = "bench-secret-" + "b" * 40
SIGN_SAMPLES = 3
SIGN_SAMPLE_SECONDS = 0.5
FULL_FOLLOWERS = 10_000
FULL_HOSTS = 1_000
POLL_SECONDS = 0.01


@dataclass(frozen=True)
class Result:
    """One scenario's figures, with the CPU seconds each group of processes used during the delivery."""

    name: str
    deliveries: int
    fanout_seconds: float
    delivery_seconds: float
    received: int
    states: dict[str, int]
    cpu: dict[str, float]


class SinkConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection of an inbox server: read each request whole, answer 202, count it."""

    def __init__(self, counter: list[int]) -> None:
        self.counter = counter
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio's classes

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            length = content_length(bytes(self.buffer[:end]))
            if len(self.buffer) < end + 4 + length:
                return
            del self.buffer[: end + 4 + length]
            self.counter[0] += 1
            self.transport.write(SINK_ANSWER)


def content_length(head: bytes) -> int:
    """The Content-Length of a request head (0 without one)."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


SINK_ANSWER = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"


def serve_sinks(servers: int, pipe: Connection) -> None:
    """Child process: run ``servers`` counting inbox servers, send their ports, and on request the count and CPU."""
    async def main() -> None:
        counter = [0]
        loop = asyncio.get_running_loop()
        listening = [
            await loop.create_server(lambda: SinkConnection(counter), "127.0.0.1", 0, backlog=4096) for _ in range(servers)
        ]
        pipe.send([server.sockets[0].getsockname()[1] for server in listening])
        while (message := await loop.run_in_executor(None, pipe.recv)) != "stop":
            pipe.send(counter[0])
        for server in listening:
            server.close()

    uvloop.run(main())


def run_worker(database_url: str, hosts: int, pipe: Connection) -> None:
    """Child process: a delivery worker as ``fedi worker`` runs it, until told to stop."""
    async def main() -> None:
        pool = await create_pool(database_url, max_size=10)
        static_hosts = {f"host{i:04d}.bench": "127.0.0.1" for i in range(hosts)}
        try:
            async with HttpClient(
                (ipaddress.ip_network("127.0.0.0/8"),), user_agent="fedi-bench", static_hosts=static_hosts
            ) as http:
                stop = asyncio.Event()
                worker = Worker(pool, [DeliveryTask(pool, http, KeyVault(SECRET))])
                running = asyncio.create_task(worker.run_forever(stop))
                pipe.send("ready")
                await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
                stop.set()
                await running
        finally:
            await pool.close()

    uvloop.run(main())


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
    await conn.execute("ANALYZE")


def received(sinks: list[Connection]) -> int:
    """What the inbox servers have received so far."""
    for pipe in sinks:
        pipe.send("count")
    return sum(pipe.recv() for pipe in sinks)


async def scenario(
    name: str, conn: asyncpg.Connection, department_id: int, actor_uri: str, shared: bool, args: argparse.Namespace,
    ports: list[int], sinks: list[Connection], meter: CpuMeter,
) -> Result:
    """Fan out one activity to the followers and wait until the workers have finished every delivery."""
    await add_followers(conn, department_id, args.followers, args.hosts, ports, shared)
    before = received(sinks)
    activity = {"id": f"{actor_uri}/posts/{name}/activity", "type": "Create", "actor": actor_uri,
                "object": {"id": f"{actor_uri}/posts/{name}", "type": "Note", "content": "<p>" + "x" * 500 + "</p>"}}
    meter.start()
    started = time.perf_counter()
    async with conn.transaction():
        deliveries = await enqueue_activity(
            conn, actor_id=department_id, activity=activity, inboxes=await follower_inboxes(conn, department_id)
        )
    fanned_out = time.perf_counter()
    async with asyncio.timeout(args.limit):  # the inbox servers are asked first: counting rows would load PostgreSQL
        while received(sinks) - before < deliveries:
            await asyncio.sleep(POLL_SECONDS)
        while await conn.fetchval("SELECT count(*) FROM deliveries WHERE state = 'pending'"):
            await asyncio.sleep(POLL_SECONDS)
    done = time.perf_counter()
    cpu = meter.stop()
    got = received(sinks) - before
    rows = await conn.fetch("SELECT state, count(*) FROM deliveries GROUP BY state")
    await conn.execute("DELETE FROM outbox_activities")
    return Result(name, deliveries, fanned_out - started, done - fanned_out, got, {r[0]: r[1] for r in rows}, cpu)


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


async def run(args: argparse.Namespace, ports: list[int], sinks: list[Connection], sink_pids: list[int]) -> tuple[list[Result], float]:
    """Both scenarios on a fresh embedded database, delivered by ``--workers`` worker processes."""
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="fedi-bench-") as directory:
        url, server = start_embedded_postgres(Path(directory))
        try:
            settings: Settings = load_settings(environ={}, domain="city.example", secret_key=SECRET, database_url=url, data_dir=directory)
            vault = KeyVault(SECRET)
            conn = await connect(url)
            try:
                await migrate(conn)
                department = await create_department(conn, settings, vault, department_input("library", {"display_name": "Library"}))
                key = await active_key(conn, department.id)
                assert key is not None and key.private_key_encrypted is not None
                rate = sign_rate(vault.decrypt(key.private_key_encrypted))
                pipes, workers = [], []
                for _ in range(args.workers):
                    parent, child = context.Pipe()
                    worker = context.Process(target=run_worker, args=(url, args.hosts, child), daemon=True)
                    worker.start()
                    pipes.append(parent)
                    workers.append(worker)
                try:
                    for pipe in pipes:
                        pipe.recv()
                    meter = CpuMeter({
                        "workers": lambda: [w.pid for w in workers if w.pid is not None],
                        "inbox servers": lambda: sink_pids,
                        "PostgreSQL": lambda: postgres_pids(Path(directory)),
                    })
                    results = [
                        await scenario(name, conn, department.id, department.uri, shared, args, ports, sinks, meter)
                        for name, shared in (("shared inboxes", True), ("personal inboxes", False))
                    ]
                finally:
                    for pipe in pipes:
                        pipe.send("stop")
                    for worker in workers:
                        worker.join(30)
            finally:
                await conn.close()
        finally:
            server.cleanup()
    return results, rate


def figures(args: argparse.Namespace, results: list[Result], rate: float) -> list[Figure]:
    """The scenarios' figures: time until all delivered, and the per-follower rate against raw signing."""
    full = args.followers >= FULL_FOLLOWERS and args.hosts >= FULL_HOSTS
    out = []
    for r in results:
        if r.received < r.deliveries or r.states.get("pending", 0) or r.states.get("delivered", 0) != r.deliveries:
            raise RuntimeError(f"{r.name}: {r.deliveries} deliveries queued, sinks received {r.received}, states {r.states}")
        seconds = r.fanout_seconds + r.delivery_seconds
        shared = r.name == "shared inboxes"
        cpu = ", ".join(f"{group} {1000 * used / r.deliveries:.2f}" for group, used in r.cpu.items())
        note = (f"fan-out {r.fanout_seconds:.3f} s + delivery {r.delivery_seconds:.2f} s; {r.deliveries:,} deliveries; "
                f"{args.workers} worker process(es); CPU ms per delivery: {cpu}")
        out.append(Figure(f"fan-out, {r.name} ({args.followers:,} followers, {args.hosts:,} hosts): all delivered",
                          seconds, "s", target=Target(2 if shared else 5, at_least=False), judged=full, note=note))
        if not shared:
            out.append(Figure(f"fan-out, {r.name}: deliveries/s", r.deliveries / seconds, "deliveries/s",
                              "raw RSA-2048 sign/s (one core)", rate, Target(0.5, at_least=True, on_ratio=True)))
    return out


def measure(args: argparse.Namespace) -> list[Figure]:
    """Start the inbox servers, run the scenarios, print them; their figures."""
    context = multiprocessing.get_context("spawn")
    pipes, sinks, ports = [], [], []
    for index in range(args.sinks):
        parent, child = context.Pipe()
        share = args.servers // args.sinks + (1 if index < args.servers % args.sinks else 0)
        sink = context.Process(target=serve_sinks, args=(max(share, 1), child), daemon=True)
        sink.start()
        pipes.append(parent)
        sinks.append(sink)
    try:
        for pipe in pipes:
            ports += pipe.recv()
        results, rate = asyncio.run(run(args, ports, pipes, [s.pid for s in sinks if s.pid is not None]))
    finally:
        for pipe in pipes:
            pipe.send("stop")
        for sink in sinks:
            sink.join(10)
    print(f"raw RSA-2048 signing on one core: {rate:,.0f} signatures/s; {args.workers} worker process(es), "
          f"{args.sinks} inbox server process(es)")
    print(f"{'scenario':<18} {'deliveries':>10} {'fan-out s':>9} {'deliver s':>9} {'per s':>8} {'of sign rate':>12}"
          f"  {'CPU ms/delivery: workers':>24} {'sinks':>6} {'pg':>6}  states")
    for r in results:
        per_second = r.deliveries / (r.fanout_seconds + r.delivery_seconds)
        states = ", ".join(f"{k} {v}" for k, v in sorted(r.states.items()))
        per = [1000 * r.cpu[group] / r.deliveries for group in ("workers", "inbox servers", "PostgreSQL")]
        print(f"{r.name:<18} {r.deliveries:>10,} {r.fanout_seconds:>9.3f} {r.delivery_seconds:>9.2f} "
              f"{per_second:>8,.0f} {per_second / rate:>11.1%}  {per[0]:>24.2f} {per[1]:>6.2f} {per[2]:>6.2f}"
              f"  {states}; sinks received {r.received:,}")
    return figures(args, results, rate)


def main() -> None:
    """Parse the arguments, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--followers", type=int, default=FULL_FOLLOWERS)
    parser.add_argument("--hosts", type=int, default=FULL_HOSTS)
    parser.add_argument("--servers", type=int, default=4, help="inbox servers the host names are spread over")
    parser.add_argument("--sinks", type=int, default=1, help="processes the inbox servers run in")
    parser.add_argument("--workers", type=int, default=2, help="delivery worker processes")
    parser.add_argument("--limit", type=float, default=300, help="seconds each scenario may take at most")
    bench_main(parser, measure, quick={"followers": 1000, "hosts": 100, "limit": 60})


if __name__ == "__main__":
    main()
