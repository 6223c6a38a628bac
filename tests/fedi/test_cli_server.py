"""``fedi serve`` and ``fedi quickstart`` as real processes: TLS, the embedded database, clear start-up errors."""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
import stat
from pathlib import Path

import aiohttp
import asyncpg
import pytest
import trustme
from prometheus_client.parser import text_string_to_metric_families

from fedi.settings import Settings
from keys.keypairs import KeyVault
from tests.conftest import TEST_SECRET
from tests.factories import make_department
from tests.processes import FEDI, clean_environ, fedi_process, free_port, run_fedi, wait_until_up

AP = {"Accept": "application/activity+json"}


async def test_serve_with_tls(
    tmp_path: Path, database_url: str, conn: asyncpg.Connection, settings: Settings, vault: KeyVault, http: aiohttp.ClientSession
) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("city.example", "127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(tmp_path / "chain.pem")
    cert.private_key_pem.write_to_path(tmp_path / "key.pem")
    ca.cert_pem.write_to_path(tmp_path / "ca.pem")
    await make_department(conn, settings, vault, "library")
    port = free_port()
    env = clean_environ(DATABASE_URL=database_url, FEDI_DOMAIN="city.example", FEDI_SECRET_KEY=TEST_SECRET)
    context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    args = ("serve", "--port", str(port), "--tls-cert", str(tmp_path / "chain.pem"), "--tls-key", str(tmp_path / "key.pem"))
    async with fedi_process(*args, env=env, cwd=tmp_path) as (_, lines):
        url = f"https://127.0.0.1:{port}/users/library"
        await wait_until_up(http, url, lines, ssl=context)
        async with http.get(url, headers=AP, ssl=context) as response:
            assert response.status == 200
            assert (await response.json(content_type=None))["id"] == "https://city.example/users/library"
        with pytest.raises(aiohttp.ClientConnectorError):  # an untrusted client refuses the test CA's certificate
            async with http.get(url, headers=AP):
                pass
    assert f"fedi is listening on https://127.0.0.1:{port} (public address https://city.example)" in "".join(lines)


async def test_quickstart_needs_no_configuration(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    port = free_port()
    env = clean_environ(FEDI_PORT=str(port))
    base = f"http://localhost:{port}"
    async with fedi_process("quickstart", env=env, cwd=tmp_path) as (_, lines):
        await wait_until_up(http, f"http://127.0.0.1:{port}/.well-known/nodeinfo", lines)
        async with http.get(f"http://127.0.0.1:{port}/users/demo", headers=AP) as response:
            assert response.status == 200
            actor = await response.json(content_type=None)
        resource = f"acct:demo@localhost:{port}"
        async with http.get(f"http://127.0.0.1:{port}/.well-known/webfinger", params={"resource": resource}) as response:
            jrd = await response.json(content_type=None)
    assert actor["id"] == f"{base}/users/demo" and actor["name"] == "Demo department"
    assert {"rel": "self", "type": "application/activity+json", "href": actor["id"]} in jrd["links"]
    output = "".join(lines)
    assert f"curl -H 'Accept: application/activity+json' {base}/users/demo" in output
    secret = tmp_path / "var" / "secret_key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600 and len(secret.read_text().strip()) >= 32
    assert (tmp_path / "var" / "postgres" / "PG_VERSION").exists()
    assert (tmp_path / "var" / "fedi.toml").read_text() == f'domain = "localhost:{port}"\nscheme = "http"\n'

    # Admin commands run in the same directory find the quick start's database and settings by themselves.
    process = await asyncio.create_subprocess_exec(
        FEDI, "admin", "department", "list", env=clean_environ(), cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    assert "demo" in out.decode() and "Demo department" in out.decode()

    # A second start keeps the same database, secret and key, and adds no second demo.
    async with fedi_process("quickstart", env=env, cwd=tmp_path) as (_, lines):
        await wait_until_up(http, f"http://127.0.0.1:{port}/.well-known/nodeinfo", lines)
        async with http.get(f"http://127.0.0.1:{port}/users/demo", headers=AP) as response:
            again = await response.json(content_type=None)
        async with http.get(f"http://127.0.0.1:{port}/nodeinfo/2.0") as response:
            users = (await response.json(content_type=None))["usage"]["users"]["total"]
    assert again["publicKey"] == actor["publicKey"]
    assert users == 1


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "FEDI_DOMAIN is not set"),
        ({"FEDI_DOMAIN": "city.example"}, "FEDI_SECRET_KEY is not set"),
        ({"FEDI_DOMAIN": "city.example", "FEDI_SECRET_KEY": TEST_SECRET, "FEDI_PORT": "x"}, "FEDI_PORT='x' is not a number"),
    ],
)
async def test_serve_refuses_to_start_without_settings(tmp_path: Path, env: dict[str, str], message: str) -> None:
    process = await asyncio.create_subprocess_exec(
        FEDI, "serve", env=clean_environ(**env), cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await process.communicate()
    assert process.returncode == 2
    assert message in err.decode()
    assert not (tmp_path / "var").exists()


async def test_serve_with_two_workers_adds_up_their_metrics(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    env = clean_environ(DATABASE_URL=database_url, FEDI_DOMAIN="city.example", FEDI_SECRET_KEY=TEST_SECRET)
    base = f"http://127.0.0.1:{port}"

    async def fresh_get(path: str) -> tuple[int, str, str]:
        """A request on a new connection (so either process may take it)."""
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
            async with session.get(f"{base}{path}") as response:
                return response.status, await response.text(), response.headers.get("X-Request-Id", "")

    async with fedi_process("serve", "--port", str(port), "--workers", "2", env=env, cwd=tmp_path) as (process, lines):
        async with aiohttp.ClientSession() as http:
            await wait_until_up(http, f"{base}/readyz", lines)
        for _ in range(20):
            assert (await fresh_get("/healthz"))[0] == 200
        scraped = []
        for _ in range(4):
            status, text, _ = await fresh_get("/metrics")
            assert status == 200
            samples = {
                (s.name, frozenset(s.labels.items())): s.value
                for family in text_string_to_metric_families(text) for s in family.samples
            }
            scraped.append(samples[("fedi_http_requests_total", frozenset({"method": "GET", "route": "/healthz", "status": "200"}.items()))])
        _, _, request_id = await fresh_get("/healthz")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0, "".join(lines)
    assert scraped == [20.0] * 4  # whichever process answered, the count covers both
    output = "".join(lines)
    assert output.count("Started server process") == 2  # two processes served the port
    access = [json.loads(line) for line in lines if line.startswith("{") and request_id in line]
    assert [(a["logger"], a["method"], a["path"], a["status"]) for a in access] == [("fedi.access", "GET", "/healthz", 200)]


async def test_serve_logs_text_when_asked(tmp_path: Path, database_url: str, http: aiohttp.ClientSession) -> None:
    port = free_port()
    env = clean_environ(DATABASE_URL=database_url, FEDI_DOMAIN="city.example", FEDI_SECRET_KEY=TEST_SECRET)
    async with fedi_process("serve", "--port", str(port), "--log-format", "text", env=env, cwd=tmp_path) as (_, lines):
        await wait_until_up(http, f"http://127.0.0.1:{port}/healthz", lines)
        async with http.get(f"http://127.0.0.1:{port}/healthz", headers={"X-Request-Id": "text-log-1"}) as response:
            assert response.status == 200
    assert any(" INFO fedi.access: GET /healthz 200 [text-log-1]" in line for line in lines), "".join(lines)
    assert not any(line.startswith("{") for line in lines)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--workers", "0"), "--workers must be at least 1 (got 0)"),
        (("--graceful-timeout", "-1"), "--graceful-timeout must not be negative"),
    ],
)
async def test_serve_refuses_bad_process_options(tmp_path: Path, database_url: str, args: tuple[str, ...], message: str) -> None:
    env = clean_environ(DATABASE_URL=database_url, FEDI_DOMAIN="city.example", FEDI_SECRET_KEY=TEST_SECRET)
    result = await run_fedi("serve", *args, env=env, cwd=tmp_path)
    assert result.status == 2 and f"fedi: error: {message}" in result.err
