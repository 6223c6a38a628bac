"""Inbox ingest: signed ``Create{Note}`` replies from many remote actors, verified, stored, answered 202.

    .venv/bin/python bench/inbox_ingest.py [--actors 1000] [--requests 6000] [--concurrency 64] [--workers 2]

``fedi serve --no-worker --workers N`` (N web processes on one port, default 2: one per core of a
small server) on its own embedded PostgreSQL receives replies to a department post from
``--actors`` remote actors whose keys are already cached in the database (as they are after each
actor's first activity). The requests are signed beforehand as Mastodon signs them and sent as
ready-made bytes by a load client of its own process over keep-alive connections, so the timed
phase measures the server; the client's own CPU time is reported beside the server's and the
database's. The figure is compared with the raw RSA-2048 verify rate of one core measured in the
same run: a server that did nothing but verify signatures would reach that rate per core.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actors.departments import create_department  # noqa: E402
from actors.remote_documents import parse_actor  # noqa: E402
from actors.remote_queries import upsert_remote_actor  # noqa: E402
from actors.validation import department_input  # noqa: E402
from fedi.database import connect  # noqa: E402
from fedi.embedded import start_embedded_postgres  # noqa: E402
from fedi.migrate import migrate  # noqa: E402
from fedi.settings import load_settings  # noqa: E402
from keys.keypairs import KeyVault  # noqa: E402
from keys.signing import sign_request  # noqa: E402
from bench.common import (  # noqa: E402
    CpuMeter, Figure, Target, bench_main, descendants, fedi_environment, free_port, postgres_pids, running,
)

SECRET = "bench-secret-" + "i" * 40
DOMAIN = "city.example"
DISTINCT_KEYS = 50  # key material shared round-robin by the actors; every actor has its own key id
FEDI = str(Path(sys.executable).with_name("fedi"))
WARMUP = 200  # requests sent (and stored) before the clock starts
TARGET = Target(3000, at_least=True)


def raw_verify_rate(seconds: float = 1.0) -> float:
    """RSA-2048 PKCS#1 v1.5 SHA-256 verifications per second on one core."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    data = b"x" * 300
    signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    public = key.public_key()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(200):
            public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        count += 200
    return count / (time.perf_counter() - start)


def actor_document(n: int, pem: str) -> dict:
    """A Mastodon-like Person on one of the remote hosts."""
    host = f"host{n % 100}.example"
    uri = f"https://{host}/users/citizen{n}"
    return {
        "id": uri, "type": "Person", "preferredUsername": f"citizen{n}", "inbox": f"{uri}/inbox",
        "endpoints": {"sharedInbox": f"https://{host}/inbox"},
        "publicKey": {"id": f"{uri}#main-key", "owner": uri, "publicKeyPem": pem},
    }


async def prepare(database_url: str, actors: int, keys: list[rsa.RSAPrivateKey]) -> list[str]:
    """Migrate, create the department and the remote actors; return the actors' ids."""
    settings = load_settings({}, domain=DOMAIN, secret_key=SECRET, database_url=database_url)
    conn = await connect(database_url)
    try:
        await migrate(conn)
        await create_department(conn, settings, KeyVault(SECRET), department_input("library", {}))
        pems = [k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode() for k in keys]
        uris = []
        for n in range(actors):
            actor = await upsert_remote_actor(conn, parse_actor(actor_document(n, pems[n % len(pems)])))
            uris.append(actor.uri)
        return uris
    finally:
        await conn.close()


def signed_requests(count: int, uris: list[str], keys: list[rsa.RSAPrivateKey], url: str) -> list[bytes]:
    """Replies to the department, each signed by its author as Mastodon signs, as bytes on the wire."""
    out = []
    for n in range(count):
        actor = uris[n % len(uris)]
        note_id = f"{actor}/statuses/{n}"
        activity = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{note_id}/activity", "type": "Create", "actor": actor,
            "to": ["https://www.w3.org/ns/activitystreams#Public"], "cc": [f"https://{DOMAIN}/users/library"],
            "object": {
                "id": note_id, "type": "Note", "attributedTo": actor, "content": f"<p>Question number {n}?</p>",
                "to": ["https://www.w3.org/ns/activitystreams#Public"], "cc": [f"https://{DOMAIN}/users/library"],
                "tag": [{"type": "Mention", "href": f"https://{DOMAIN}/users/library", "name": f"@library@{DOMAIN}"}],
                "published": "2026-11-24T10:00:00Z",
            },
        }
        body = json.dumps(activity).encode()
        headers = sign_request("POST", url, {"Content-Type": "application/activity+json"}, body,
                               f"{actor}#main-key", keys[(n % len(uris)) % len(keys)])
        out.append(raw_request(urlsplit(url).path, body, headers))
    return out


def raw_request(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    """One HTTP/1.1 POST as bytes on the wire."""
    lines = [f"POST {path} HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items() if name.lower() != "content-length")]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _Sender(asyncio.Protocol):
    """A keep-alive connection that sends the next ready-made request as soon as the answer is in."""

    def __init__(self, requests: list[bytes], statuses: dict[int, int], closed: asyncio.Future[None]) -> None:
        self.requests, self.statuses, self.closed = requests, statuses, closed
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self._next()

    def _next(self) -> None:
        assert self.transport is not None
        if self.requests:
            self.transport.write(self.requests.pop())
        else:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            length = next((int(line.split(":", 1)[1]) for line in head[1:] if line.lower().startswith("content-length:")), 0)
            if len(self.buffer) < end + 4 + length:
                return
            del self.buffer[: end + 4 + length]
            status = int(head[0].split(" ", 2)[1])
            self.statuses[status] = self.statuses.get(status, 0) + 1
            self._next()


async def _blast(port: int, requests: list[bytes], concurrency: int) -> tuple[float, dict[int, int], float]:
    loop = asyncio.get_running_loop()
    pending = list(reversed(requests))
    statuses: dict[int, int] = {}
    cpu, start = time.process_time(), time.perf_counter()
    closed = []
    for _ in range(min(concurrency, len(requests))):
        future: asyncio.Future[None] = loop.create_future()
        closed.append(future)
        await loop.create_connection(lambda f=future: _Sender(pending, statuses, f), "127.0.0.1", port)  # type: ignore[misc]
    await asyncio.gather(*closed)
    return time.perf_counter() - start, statuses, time.process_time() - cpu


def _client(port: int, requests: list[bytes], concurrency: int) -> tuple[float, dict[int, int], float]:
    """Child process: send every request with ``concurrency`` in flight; elapsed time, statuses, own CPU time."""
    return asyncio.run(_blast(port, requests, concurrency))


async def blast(port: int, requests: list[bytes], concurrency: int) -> tuple[float, dict[int, int], float]:
    """Send the requests from a load client process of its own; elapsed time, statuses and the client's CPU seconds."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return await asyncio.to_thread(pool.apply, _client, (port, requests, concurrency))


async def wait_up(base: str) -> None:
    """Until the server answers."""
    async with aiohttp.ClientSession() as http:
        for _ in range(300):
            try:
                async with http.get(f"{base}/.well-known/nodeinfo") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("server did not start")


async def run(args: argparse.Namespace) -> list[Figure]:
    """Prepare, serve, send the signed replies; the accepted rate against the raw verify rate."""
    with tempfile.TemporaryDirectory(prefix="fedi-bench-") as tmp:
        database_url, server = start_embedded_postgres(Path(tmp), database="fedi")
        try:
            keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(DISTINCT_KEYS)]
            uris = await prepare(database_url, args.actors, keys)
            base = f"http://127.0.0.1:{args.port}"
            requests = signed_requests(args.requests + WARMUP, uris, keys, f"https://{DOMAIN}/inbox")
            env = fedi_environment(Path(tmp), database_url, DOMAIN, SECRET)
            async with running(FEDI, "serve", "--no-worker", "--workers", str(args.workers), "--port", str(args.port),
                               env=env, ready_url=f"{base}/.well-known/nodeinfo") as process:
                meter = CpuMeter({"fedi": lambda: descendants(process.pid), "postgres": lambda: postgres_pids(Path(tmp))})
                await blast(args.port, requests[:WARMUP], args.concurrency)  # warm-up (stored too)
                meter.start()
                elapsed, statuses, client_cpu = await blast(args.port, requests[WARMUP:], args.concurrency)
                used = meter.stop() | {"load client": client_cpu}
            conn = await connect(database_url)
            stored = await conn.fetchval("SELECT count(*) FROM inbox_items")
            await conn.close()
        finally:
            server.cleanup()
    verify = raw_verify_rate()
    accepted = statuses.get(202, 0)
    rate = accepted / elapsed
    cpu = ", ".join(f"{name} {1000 * seconds / max(accepted, 1):.2f}" for name, seconds in used.items())
    print(f"inbox ingest: {accepted} signed Create{{Note}} from {args.actors} actors in {elapsed:.2f} s "
          f"({args.workers} fedi processes; concurrency {args.concurrency}; statuses {dict(sorted(statuses.items()))}; {stored} stored)")
    print(f"{'figure':<40}{'value':>12}")
    print(f"{'accepted/s':<40}{rate:>12.0f}")
    print(f"{'raw RSA-2048 verify/s (one core)':<40}{verify:>12.0f}")
    print(f"{'ratio accepted / raw verify':<40}{rate / verify:>12.3f}")
    print(f"CPU ms per accepted activity: {cpu}")
    if accepted != args.requests or stored != args.requests + WARMUP:
        raise RuntimeError(f"expected {args.requests} answered 202 and {args.requests + WARMUP} stored; "
                           f"got statuses {statuses} and {stored} stored")
    return [Figure(f"inbox ingest ({args.actors} actors, keys cached)", rate, "activities/s",
                   "raw RSA-2048 verify/s (one core)", verify, TARGET, note=f"CPU ms/activity: {cpu}")]


def measure(args: argparse.Namespace) -> list[Figure]:
    """The figures of this bench."""
    return asyncio.run(run(args))


def main() -> None:
    """Parse the arguments, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actors", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=6000, help=f"measured requests (after {WARMUP} to warm up)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2, help="fedi serve --workers (web processes)")
    parser.add_argument("--port", type=int, default=free_port())
    bench_main(parser, measure, quick={"actors": 200, "requests": 1500})


if __name__ == "__main__":
    main()
