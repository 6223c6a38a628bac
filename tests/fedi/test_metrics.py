"""``/metrics`` over real HTTP: the families, and values that move after real requests, deliveries and refusals."""

from __future__ import annotations

import dataclasses
import json

import aiohttp
import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from actors.queries import LocalActor
from fedi import metrics
from fedi.assembly import build_worker
from fedi.settings import Settings
from keys.keypairs import KeyVault
from outbox.fanout import enqueue_activity
from tests.factories import make_department
from tests.inbox.support import post, sign
from tests.outbox.sinks import note_activity
from tests.peers import RemotePeer
from tests.servers import RunningInstance, running_server

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

FAMILIES = {
    "fedi_http_requests", "fedi_http_request_duration_seconds", "fedi_inbox_activities", "fedi_deliveries",
    "fedi_signature_failures", *metrics.QUEUE_GAUGES,
}


async def scrape(http: aiohttp.ClientSession, server: str) -> tuple[set[str], Samples]:
    """The family names and every sample of ``/metrics``, keyed by sample name and labels."""
    async with http.get(f"{server}/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = await response.text()
    families = list(text_string_to_metric_families(text))
    samples = {(s.name, frozenset(s.labels.items())): s.value for f in families for s in f.samples}
    return {f.name for f in families}, samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value (0 when the series does not exist yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
async def library(conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> LocalActor:
    return await make_department(conn, settings, vault, "library")


async def test_requests_are_counted_by_route_template(
    server: str, http: aiohttp.ClientSession, library: LocalActor
) -> None:
    names, before = await scrape(http, server)
    assert FAMILIES <= names
    for _ in range(3):
        async with http.get(f"{server}/users/library", headers={"Accept": "application/activity+json"}) as response:
            assert response.status == 200
    async with http.get(f"{server}/no/such/page/12345") as response:
        assert response.status == 404
    _, after = await scrape(http, server)
    route = {"method": "GET", "route": "/users/{username}", "status": "200"}
    assert value(after, "fedi_http_requests_total", **route) - value(before, "fedi_http_requests_total", **route) == 3
    timed = {"method": "GET", "route": "/users/{username}"}
    assert value(after, "fedi_http_request_duration_seconds_count", **timed) - value(
        before, "fedi_http_request_duration_seconds_count", **timed) == 3
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, "fedi_http_requests_total", **unmatched) - value(before, "fedi_http_requests_total", **unmatched) == 1
    assert not any("library" in dict(labels).get("route", "") or "12345" in dict(labels).get("route", "")
                   for _, labels in after)  # raw paths never become labels


async def test_inbox_activities_deliveries_and_signature_failures_move(
    instance: RunningInstance, server: str, http: aiohttp.ClientSession, peer: RemotePeer, library: LocalActor,
) -> None:
    alice = peer.users["alice"]
    _, before = await scrape(http, server)
    follow = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{alice.uri}#follows/1", "type": "Follow",
              "actor": alice.uri, "object": library.uri}
    body = json.dumps(follow).encode()
    inbox = f"{server}/users/library/inbox"
    assert (await post(http, inbox, body, sign(alice, inbox, body)))[0] == 202
    assert (await post(http, inbox, body, sign(alice, inbox, body)))[0] == 202  # the same activity again
    status, error = await post(http, inbox, body, sign(alice, inbox, body, digest_of=b"other bytes"))
    assert status == 401 and error["error"].startswith("signature: digest_mismatch")
    assert await build_worker(instance.services).run_until_idle() >= 2  # the Follow, then the Accept's delivery
    assert peer.inbox_posts()  # the Accept reached alice's server
    _, after = await scrape(http, server)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("fedi_inbox_activities_total", type="Follow", outcome="accepted", status="") == 1
    assert moved("fedi_inbox_activities_total", type="Follow", outcome="duplicate", status="") == 1
    assert moved("fedi_inbox_activities_total", type="Follow", outcome="rejected", status="401") == 1
    assert moved("fedi_inbox_activities_total", type="Follow", outcome="processed", status="") == 1
    assert moved("fedi_signature_failures_total", reason="digest_mismatch") == 1
    assert moved("fedi_deliveries_total", outcome="delivered") == 1


async def test_unknown_activity_types_and_reasons_share_one_series(server: str, http: aiohttp.ClientSession) -> None:
    _, before = await scrape(http, server)
    activity = {"id": "https://elsewhere.example/1", "type": "Random-Type-123", "actor": "https://elsewhere.example/a"}
    async with http.post(f"{server}/inbox", json=activity, headers={"Content-Type": "application/activity+json"}) as response:
        assert response.status == 401  # unsigned
    metrics.count_signature_failure("Not A Reason!")
    _, after = await scrape(http, server)
    other = {"type": "other", "outcome": "rejected", "status": "401"}
    assert value(after, "fedi_inbox_activities_total", **other) - value(before, "fedi_inbox_activities_total", **other) == 1
    assert not any(dict(labels).get("type") == "Random-Type-123" for _, labels in after)
    assert value(after, "fedi_signature_failures_total", reason="other") > value(
        before, "fedi_signature_failures_total", reason="other")


async def test_queue_gauges_come_from_the_database(
    server: str, http: aiohttp.ClientSession, conn: asyncpg.Connection, library: LocalActor
) -> None:
    inboxes = [f"https://a.example/users/u{i}/inbox" for i in range(3)]
    await enqueue_activity(conn, actor_id=library.id, activity=note_activity(library.uri), inboxes=inboxes)
    await conn.execute("UPDATE deliveries SET next_attempt_at = now() - interval '90 seconds' WHERE inbox_url = $1", inboxes[0])
    await conn.execute("UPDATE deliveries SET next_attempt_at = now() + interval '1 hour' WHERE inbox_url = $1", inboxes[1])
    _, samples = await scrape(http, server)
    assert value(samples, "fedi_deliveries_pending") == 3
    assert value(samples, "fedi_deliveries_due") == 2
    assert value(samples, "fedi_deliveries_oldest_due_age_seconds") >= 90
    assert value(samples, "fedi_inbox_items_pending") == 0


async def test_metrics_are_refused_to_addresses_not_allowed(settings: Settings, http: aiohttp.ClientSession) -> None:
    async with running_server(dataclasses.replace(settings, metrics_allow=())) as running:
        async with http.get(f"{running.base_url}/metrics") as response:
            assert response.status == 403
            assert (await response.json())["error"].startswith("metrics are only shown to")


def test_bad_outcomes_are_programming_errors() -> None:
    with pytest.raises(ValueError):
        metrics.count_delivery("lost")
    with pytest.raises(ValueError):
        metrics.count_inbox("Follow", "maybe")
