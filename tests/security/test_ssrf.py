"""Server-side request forgery: every outgoing request is judged after DNS, at the address it connects to.

The unit tests of the client (tests/fedi/test_http_client.py) map names to addresses with
``static_hosts``; here a scripted resolver plays a hostile DNS server instead, answering what each
test wants (and something else the second time it is asked), and a running fedi server with the
production address policy is made to fetch through every path it has: WebFinger, actor, object and
key fetches, and deliveries. A guard on the event loop (from the client's tests) records every
connection attempt and refuses anything off this machine; an "internal" server on 127.0.0.1 plays
the metadata service or admin panel an attacker wants to reach, and must never see a request.
"""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import json
import re
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import trustme
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from cryptography.hazmat.primitives.asymmetric import rsa

from actors.errors import ActorsError
from actors.follow_queries import upsert_follow
from fedi.addresses import is_public
from fedi.http_client import (
    FetchError,
    FetchTimeout,
    ForbiddenAddress,
    HttpClient,
    ResponseTooLarge,
    TooManyRedirects,
)
from fedi.settings import Settings
from fedi.worker import Worker
from keys.keypairs import KeyVault
from outbox.deliveries import DeliveryTask
from outbox.posts import publish_post
from tests.factories import citizen, make_department
from tests.fedi.test_http_client import USER_AGENT, LocalServer, connect_attempts, respond, serving  # noqa: F401
from tests.inbox.support import post, sign
from tests.peers import PeerUser
from tests.servers import RunningInstance, running_server

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("fedi", "keys", "actors", "outbox", "inbox", "api", "web")
PUBLIC_ADDRESS = "192.88.99.1"
# Every kind of address a remote name must not lead to, in every spelling that reaches it.
FORBIDDEN = {
    "loopback": ["127.0.0.1", "127.255.255.254", "::1"],
    "private": ["10.0.0.1", "172.16.0.1", "172.31.255.254", "192.168.1.1"],
    "link-local": ["169.254.169.254", "fe80::1"],
    "multicast": ["224.0.0.1", "239.255.255.250", "ff02::1", "ff0e::1"],
    "unspecified": ["0.0.0.0", "::"],
    "this network": ["0.1.2.3"],
    "broadcast": ["255.255.255.255"],
    "CGNAT": ["100.64.0.1", "100.127.255.254"],
    "unique-local": ["fc00::1", "fd12:3456::1"],
    "site-local": ["fec0::1"],
    "IPv4-mapped": ["::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:100.64.0.1"],
    "IPv4-compatible": ["::127.0.0.1", "::10.0.0.1"],
    "NAT64": ["64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::a00:1"],
    "6to4": ["2002:7f00:1::1", "2002:a00:1::1", "2002:c0a8:101::1"],
    "Teredo": ["2001:0:4136:e378:8000:63bf:80ff:fffe"],
    "documentation": ["192.0.2.1", "2001:db8::1", "3fff::1"],
}
FORBIDDEN_ADDRESSES = [address for addresses in FORBIDDEN.values() for address in addresses]


class ScriptedResolver(AbstractResolver):
    """A DNS server under the attacker's control: each name answers its scripted lists in turn (the last one repeats)."""

    def __init__(self, script: dict[str, list[list[str]]]) -> None:
        self.script = script
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        """The next scripted answer for ``host``; an unknown name does not resolve."""
        self.asked.append(host)
        answers = self.script.get(host)
        if not answers:
            raise OSError(socket.EAI_NONAME, f"{host} does not resolve")
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        return [
            ResolveResult(hostname=host, host=address, port=port, family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                          proto=0, flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV)
            for address in answer
        ]

    async def close(self) -> None:
        """Nothing to release."""


@asynccontextmanager
async def client_with(
    script: dict[str, list[list[str]]], allow: tuple[str, ...] = (), **options: Any
) -> AsyncIterator[tuple[HttpClient, ScriptedResolver]]:
    """A client resolving through ``script``, allowing only the ``allow`` networks besides public addresses."""
    dns = ScriptedResolver(script)
    networks = [ipaddress.ip_network(network) for network in allow]
    async with HttpClient(networks, user_agent=USER_AGENT, resolver=lambda: dns, **options) as http:
        yield http, dns


@asynccontextmanager
async def serving_on(address: str) -> AsyncIterator[LocalServer]:
    """The client tests' application on another loopback address."""
    record = LocalServer()
    handler = web.Server(lambda request: respond(record, request))

    def accept() -> asyncio.Protocol:
        record.connections += 1
        return handler()

    listener = await asyncio.get_running_loop().create_server(accept, address, 0)
    record.port = listener.sockets[0].getsockname()[1]
    try:
        yield record
    finally:
        listener.close()
        await handler.shutdown(0.1)
        await listener.wait_closed()


@pytest.fixture
async def internal() -> AsyncIterator[LocalServer]:
    """The server an attacker wants to reach: it listens on 127.0.0.1 and must never be connected to."""
    async with serving() as local:
        yield local


# Every outgoing request goes through the one client.


def test_only_the_http_client_opens_connections() -> None:
    """No module but fedi/http_client.py makes HTTP requests or opens sockets of its own."""
    forbidden = re.compile(
        r"ClientSession\(|TCPConnector\(|urllib\.request|urlopen|import requests|import httpx|from httpx|"
        r"http\.client|create_connection|open_connection|socket\.socket\(|pycurl"
    )
    offenders = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.relative_to(ROOT).as_posix() == "fedi/http_client.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if forbidden.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_remote_media_is_never_fetched() -> None:
    """Avatars, headers and attachments of remote posts are linked, not downloaded: only actors/remote.py
    (WebFinger, actors, objects, keys) and outbox/deliveries.py (deliveries) call the HTTP client."""
    calls = re.compile(r"\bhttp\.(get|post)\(")
    callers = sorted(
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if calls.search(path.read_text(encoding="utf-8"))
    )
    assert callers == ["actors/remote.py", "outbox/deliveries.py"]


# Addresses are judged after DNS resolution.


@pytest.mark.parametrize("address", FORBIDDEN_ADDRESSES)
def test_forbidden_addresses_are_not_public(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", FORBIDDEN_ADDRESSES)
async def test_a_name_resolving_to_a_forbidden_address_is_never_connected_to(
    connect_attempts: list[str], address: str
) -> None:
    async with client_with({"evil.test": [[address]]}) as (http, dns):
        for method in ("get", "post"):
            with pytest.raises(ForbiddenAddress, match="no public address"):
                if method == "get":
                    await http.get("https://evil.test/latest/meta-data/")
                else:
                    await http.post("https://evil.test/inbox", b"{}")
    assert dns.asked == ["evil.test", "evil.test"]
    assert connect_attempts == []


async def test_a_public_answer_mixed_with_private_ones_connects_to_the_public_one_only(connect_attempts: list[str]) -> None:
    async with client_with({"evil.test": [["127.0.0.1", "10.0.0.1", PUBLIC_ADDRESS, "::ffff:127.0.0.1"]]}) as (http, _):
        with pytest.raises(FetchError):  # the guard refuses to leave this machine
            await http.get("https://evil.test/")
    assert connect_attempts == [PUBLIC_ADDRESS]


@pytest.mark.parametrize("host", ["0x7f000001", "0x7f.0.0.1", "0177.0.0.1", "127.0.1", "localhost"])
async def test_names_the_system_resolver_turns_into_loopback_are_refused(
    connect_attempts: list[str], internal: LocalServer, host: str
) -> None:
    """inet_aton spellings and localhost go through the real resolver, which answers loopback: refused."""
    async with HttpClient(user_agent=USER_AGENT, total_timeout=5) as http:
        with pytest.raises(ForbiddenAddress):
            await http.get(f"https://{host}:{internal.port}/admin")
    assert connect_attempts == [] and internal.connections == 0


# DNS rebinding: the address checked is the address connected to.


async def test_a_rebinding_name_never_reaches_loopback(connect_attempts: list[str], internal: LocalServer) -> None:
    """Public at the first lookup, 127.0.0.1 at the next: the second connection is refused, not made."""
    async with client_with({"rebind.test": [[PUBLIC_ADDRESS], ["127.0.0.1"]]}) as (http, dns):
        with pytest.raises(FetchError):  # connected to the public answer (the guard refuses to leave)
            await http.get(f"https://rebind.test:{internal.port}/admin")
        with pytest.raises(ForbiddenAddress, match=r"found 127\.0\.0\.1"):
            await http.get(f"https://rebind.test:{internal.port}/admin")
    assert dns.asked == ["rebind.test", "rebind.test"]
    assert connect_attempts == [PUBLIC_ADDRESS]
    assert internal.connections == 0


async def test_a_rebinding_name_cannot_redirect_into_the_internal_network(
    connect_attempts: list[str], internal: LocalServer
) -> None:
    """A permitted server (127.0.0.2, allowlisted) redirects to its own name, which now answers 127.0.0.1."""
    async with serving_on("127.0.0.2") as outside:
        outside.redirects["/start"] = (302, f"http://rebind.test:{internal.port}/admin")
        script = {"rebind.test": [["127.0.0.2"], ["127.0.0.1"]]}
        async with client_with(script, allow=("127.0.0.2/32",)) as (http, dns):
            with pytest.raises(ForbiddenAddress, match=r"found 127\.0\.0\.1"):
                await http.get(f"http://rebind.test:{outside.port}/start")
    assert dns.asked == ["rebind.test", "rebind.test"]
    assert connect_attempts == ["127.0.0.2"]
    assert [r.raw_path for r in outside.requests] == ["/start"] and internal.connections == 0


# Redirects, sizes and time.


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.1:{port}/admin",
        "http://[::ffff:127.0.0.1]:{port}/admin",
        "http://[64:ff9b::7f00:1]:{port}/admin",
        "http://0x7f000001:{port}/admin",
        "http://internal.test:{port}/admin",
        "https://169.254.169.254/latest/meta-data/",
    ],
)
async def test_a_redirect_into_the_internal_network_is_refused(
    connect_attempts: list[str], internal: LocalServer, target: str
) -> None:
    async with serving_on("127.0.0.2") as outside:
        outside.redirects["/start"] = (302, target.format(port=internal.port))
        script = {"outside.test": [["127.0.0.2"]], "internal.test": [["127.0.0.1"]], "0x7f000001": [["127.0.0.1"]]}
        async with client_with(script, allow=("127.0.0.2/32",)) as (http, _):
            with pytest.raises(ForbiddenAddress):
                await http.get(f"http://outside.test:{outside.port}/start")
    assert connect_attempts == ["127.0.0.2"] and internal.connections == 0


async def test_redirects_stop_after_three_hops(connect_attempts: list[str]) -> None:
    async with serving_on("127.0.0.2") as outside:
        for hop in range(5):
            outside.redirects[f"/{hop}"] = (301, f"/{hop + 1}")
        async with client_with({"outside.test": [["127.0.0.2"]]}, allow=("127.0.0.2/32",)) as (http, _):
            with pytest.raises(TooManyRedirects):
                await http.get(f"http://outside.test:{outside.port}/0")
    assert [r.raw_path for r in outside.requests] == ["/0", "/1", "/2", "/3"]


@asynccontextmanager
async def answering(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> AsyncIterator[int]:
    """A one-route aiohttp server on 127.0.0.1; yields its port."""
    app = web.Application()
    app.router.add_get("/{tail:.*}", handler)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def test_a_response_over_one_mebibyte_is_refused() -> None:
    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()  # no Content-Length to warn the client
        await response.prepare(request)
        for _ in range(17):
            await response.write(b"x" * 65536)
        return response

    async with answering(big) as port, client_with({"big.test": [["127.0.0.1"]]}, allow=("127.0.0.1/32",)) as (http, _):
        with pytest.raises(ResponseTooLarge, match="exceeds 1048576 bytes"):
            await http.get(f"http://big.test:{port}/")


async def test_a_compression_bomb_is_capped_after_decompression() -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024))  # 64 MiB of zeros in about 64 KiB

    async def compressed(request: web.Request) -> web.StreamResponse:
        return web.Response(body=bomb, headers={"Content-Encoding": "gzip", "Content-Type": "application/activity+json"})

    async with answering(compressed) as port, client_with({"bomb.test": [["127.0.0.1"]]}, allow=("127.0.0.1/32",)) as (http, _):
        with pytest.raises(ResponseTooLarge, match="exceeds 1048576 bytes"):
            await http.get(f"http://bomb.test:{port}/")


async def test_a_server_answering_one_byte_per_second_times_out() -> None:
    """The status line and headers trickle in; the client-wide limit ends the exchange."""

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        try:
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}":
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(1)
        except ConnectionError:
            pass
        finally:
            writer.close()

    listener = await asyncio.start_server(trickle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        async with client_with({"slow.test": [["127.0.0.1"]]}, allow=("127.0.0.1/32",), total_timeout=1.5) as (http, _):
            with pytest.raises(FetchTimeout, match="timed out"):
                await http.get(f"http://slow.test:{port}/")
    finally:
        listener.close()
        await listener.wait_closed()


# Every path of a running server, with the production policy.


@pytest.fixture
async def strict_instance(settings: Settings, test_ca: trustme.CA, internal: LocalServer) -> AsyncIterator[RunningInstance]:
    """A fedi server whose client allows no private network, and whose DNS answers 127.0.0.1 for internal.test."""
    script = {"internal.test": [["127.0.0.1"]], "metadata.test": [["169.254.169.254"]], "mapped.test": [["::ffff:127.0.0.1"]]}

    def factory(settings: Settings) -> HttpClient:
        context = ssl.create_default_context()
        test_ca.configure_trust(context)
        return HttpClient(user_agent="fedi-test", ssl_context=context, resolver=lambda: ScriptedResolver(script))

    async with running_server(settings, http_client=factory) as running:
        yield running


@pytest.mark.parametrize("host", ["internal.test", "metadata.test", "mapped.test"])
async def test_webfinger_actor_and_object_fetches_refuse_internal_hosts(
    strict_instance: RunningInstance, internal: LocalServer, connect_attempts: list[str], conn: asyncpg.Connection, host: str
) -> None:
    resolver = strict_instance.services.resolver
    base = f"https://{host}:{internal.port}"
    attempts: list[Callable[[], Awaitable[Any]]] = [
        lambda: resolver.resolve_handle(f"admin@{host}:{internal.port}"),
        lambda: resolver.get_actor(f"{base}/users/admin"),
        lambda: resolver.fetch_document(f"{base}/statuses/1"),
    ]
    for attempt in attempts:
        with pytest.raises(ActorsError) as caught:
            await attempt()
        assert "no public address" in str(caught.value)
    assert internal.connections == 0 and connect_attempts == []
    assert await conn.fetchval("SELECT count(*) FROM actors WHERE NOT local") == 0


async def test_a_signature_key_on_an_internal_host_is_never_fetched(
    strict_instance: RunningInstance, internal: LocalServer, connect_attempts: list[str], conn: asyncpg.Connection,
    settings: Settings, vault: KeyVault, http: aiohttp.ClientSession, rsa_keys: list[rsa.RSAPrivateKey],
) -> None:
    await make_department(conn, settings, vault, "library")
    intruder = PeerUser("admin", f"https://internal.test:{internal.port}/users/admin", rsa_keys[2], {})
    activity = {"id": f"{intruder.uri}/follows/1", "type": "Follow", "actor": intruder.uri, "object": "https://city.example/users/library"}
    body = json.dumps(activity).encode()
    url = f"{strict_instance.base_url}/users/library/inbox"
    status, answer = await post(http, url, body, sign(intruder, url, body))
    assert (status, answer) == (401, {"error": f"signature: unknown_key: no public key found for {intruder.key_id}"})
    assert internal.connections == 0 and connect_attempts == ["127.0.0.1"]  # the test's own POST to fedi
    assert await conn.fetchval("SELECT count(*) FROM inbox_items") == 0


async def test_a_delivery_to_an_internal_inbox_is_never_sent(
    strict_instance: RunningInstance, internal: LocalServer, connect_attempts: list[str], conn: asyncpg.Connection,
    settings: Settings, vault: KeyVault,
) -> None:
    library = await make_department(conn, settings, vault, "library")
    follower = await citizen(conn, "admin", f"internal.test:{internal.port}", shared_inbox=False)
    await upsert_follow(conn, follower.id, library.id, f"https://internal.test:{internal.port}/follows/1", "accepted")
    services = strict_instance.services
    await publish_post(conn, services.resolver, settings, library, "Road works on Main Street.")
    assert await Worker(services.pool, [DeliveryTask(services.pool, services.http, services.vault)]).run_until_idle() == 1
    row = await conn.fetchrow("SELECT state, last_error FROM deliveries")
    assert row["state"] == "failed" and "no public address" in row["last_error"]
    assert internal.connections == 0 and connect_attempts == []
