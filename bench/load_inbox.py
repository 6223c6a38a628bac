"""Inbox under a fixed load: signed ``Create{Note}`` replies at a steady rate, latency and memory watched.

    .venv/bin/python bench/load_inbox.py [--rate 300] [--duration 60] [--actors 1000] [--rss-bound-mb 50]

A ``fedi serve --no-worker`` process on its own embedded PostgreSQL (loopback only) receives replies
from ``--actors`` remote actors whose keys are cached in the database. Unlike bench/inbox_ingest.py
(as fast as it goes), requests leave on a fixed schedule — request i at ``i / rate`` seconds —
whether or not earlier ones were answered (open loop), with at most ``--max-in-flight`` open; one
that finds them all busy is counted as dropped instead of delaying the schedule. Latency runs from
the scheduled moment to the answer, so a server falling behind shows in it. Requests are signed
before the clock starts. Printed: requests sent, accepted per second, errors by status, latency
percentiles, the server's RSS before and after (``/proc/<pid>/status``) and whether its growth stayed
within ``--rss-bound-mb`` (exit status 1 when not), and the raw RSA-2048 verify rate of one core
measured in the same run, as the baseline of the accepted rate. It stops by itself after the run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.inbox_ingest import (  # noqa: E402
    DISTINCT_KEYS, DOMAIN, FEDI, SECRET, prepare, raw_verify_rate, signed_requests, wait_up,
)
from fedi.database import connect  # noqa: E402
from fedi.embedded import start_embedded_postgres  # noqa: E402

WARM_UP = 200


@dataclass
class LoadResult:
    """What the open-loop run observed."""

    sent: int = 0
    dropped: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` (VmRSS in /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile (nearest rank) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def open_loop(url: str, requests: list[tuple[bytes, dict[str, str]]], rate: float, max_in_flight: int) -> LoadResult:
    """Send request i at ``i / rate`` s after the start, whatever the answers; at most ``max_in_flight`` open."""
    result = LoadResult()
    in_flight: set[asyncio.Task[None]] = set()
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=max_in_flight)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def send(body: bytes, headers: dict[str, str], scheduled: float) -> None:
            try:
                async with http.post(url, data=body, headers=headers) as response:
                    await response.read()
                    status = str(response.status)
            except (aiohttp.ClientError, TimeoutError) as error:
                status = type(error).__name__
            result.statuses[status] += 1
            if status == "202":
                result.latencies.append(time.perf_counter() - scheduled)

        loop = asyncio.get_running_loop()
        start = time.perf_counter()
        for i, (body, headers) in enumerate(requests):
            scheduled = start + i / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(in_flight) >= max_in_flight:
                result.dropped += 1
                continue
            task = loop.create_task(send(body, headers, scheduled))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            result.sent += 1
        if in_flight:
            await asyncio.wait(set(in_flight))
        result.elapsed = time.perf_counter() - start
    return result


async def run(args: argparse.Namespace) -> int:
    """Prepare, load, report; return the exit status."""
    total = int(args.rate * args.duration)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="fedi-load-") as tmp:
        database_url, server = start_embedded_postgres(Path(tmp), database="fedi")
        try:
            print(f"preparing {args.actors} remote actors and signing {total + WARM_UP} requests…", flush=True)
            keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(DISTINCT_KEYS)]
            uris = await prepare(database_url, args.actors, keys)
            requests = signed_requests(total + WARM_UP, uris, keys, f"https://{DOMAIN}/inbox")
            env = {**os.environ, "DATABASE_URL": database_url, "FEDI_DOMAIN": DOMAIN, "FEDI_SECRET_KEY": SECRET,
                   "FEDI_DATA_DIR": str(Path(tmp) / "var")}
            process = await asyncio.create_subprocess_exec(
                FEDI, "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port), env=env,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )
            base = f"http://127.0.0.1:{port}"
            try:
                await wait_up(base)
                await open_loop(f"{base}/inbox", requests[:WARM_UP], args.rate, args.max_in_flight)
                rss_before = rss_bytes(process.pid)
                print(f"sending {total} requests at {args.rate:g}/s for {args.duration:g} s…", flush=True)
                result = await open_loop(f"{base}/inbox", requests[WARM_UP:], args.rate, args.max_in_flight)
                rss_after = rss_bytes(process.pid)
            finally:
                if process.returncode is None:
                    process.send_signal(signal.SIGINT)
                await asyncio.wait_for(process.wait(), 30)
            conn = await connect(database_url)
            try:
                stored = await conn.fetchval("SELECT count(*) FROM inbox_items")
            finally:
                await conn.close()
        finally:
            server.cleanup()
    verify = raw_verify_rate()
    return report(args, result, stored, rss_before, rss_after, verify)


def report(args: argparse.Namespace, result: LoadResult, stored: int, rss_before: int, rss_after: int, verify: float) -> int:
    """Print the figures; 1 when the server's memory grew past the bound."""
    accepted = result.statuses.get("202", 0)
    errors = {status: n for status, n in sorted(result.statuses.items()) if status != "202"}
    accepted_rate = accepted / result.elapsed if result.elapsed else 0.0
    growth_mb = (rss_after - rss_before) / 2**20
    within = growth_mb <= args.rss_bound_mb
    rows = [
        ("target rate /s", f"{args.rate:g}"),
        ("sent", f"{result.sent}"),
        ("dropped (all in flight)", f"{result.dropped}"),
        ("accepted (202)", f"{accepted}"),
        ("accepted /s", f"{accepted_rate:.0f}"),
        ("errors by status", ", ".join(f"{s}: {n}" for s, n in errors.items()) or "none"),
        ("stored inbox items (incl. warm-up)", f"{stored}"),
        ("latency p50 ms", f"{percentile(result.latencies, 0.50) * 1000:.1f}"),
        ("latency p90 ms", f"{percentile(result.latencies, 0.90) * 1000:.1f}"),
        ("latency p99 ms", f"{percentile(result.latencies, 0.99) * 1000:.1f}"),
        ("server RSS before MB", f"{rss_before / 2**20:.1f}"),
        ("server RSS after MB", f"{rss_after / 2**20:.1f}"),
        (f"RSS growth MB (bound {args.rss_bound_mb:g})", f"{growth_mb:+.1f} {'within' if within else 'EXCEEDED'}"),
        ("raw RSA-2048 verify/s (one core)", f"{verify:.0f}"),
        ("ratio accepted/s / raw verify/s", f"{accepted_rate / verify:.3f}"),
    ]
    print(f"inbox load: {args.actors} actors, {args.duration:g} s at {args.rate:g}/s, at most {args.max_in_flight} in flight")
    for name, value in rows:
        print(f"{name:<40}{value:>24}")
    return 0 if within else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=300.0, help="requests per second (default 300)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--actors", type=int, default=1000, help="distinct remote actors (default 1000)")
    parser.add_argument("--max-in-flight", type=int, default=256, help="open requests at most (default 256)")
    parser.add_argument("--rss-bound-mb", type=float, default=50.0, help="allowed server RSS growth (default 50)")
    args = parser.parse_args()
    if args.rate <= 0 or args.duration <= 0 or args.actors <= 0 or args.max_in_flight <= 0:
        parser.error("--rate, --duration, --actors and --max-in-flight must be positive")
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
