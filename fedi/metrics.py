"""Prometheus metrics: what every process counts, and the ``/metrics`` page that shows them.

Counters (requests, inbox activities, deliveries, signature failures) live in the process that
counts them. When ``PROMETHEUS_MULTIPROC_DIR`` is set (``fedi serve --workers N`` sets it to a fresh
directory), each process writes them to files there and ``/metrics`` adds up every process's files,
so any worker process may be scraped. Queue depths and the age of the oldest due delivery are read
from the database at scrape time, so they are right whichever process answers. Labels come from
fixed sets only (route templates, known activity types, outcome names): nothing a remote server
sends can create new series.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING

import asyncpg
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from fedi.settings import IPNetwork

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
OTHER = "other"
UNMATCHED_ROUTE = "unmatched"

# ActivityStreams activity types (and the common extensions); any other type is counted as "other".
ACTIVITY_TYPES = frozenset({
    "Accept", "Add", "Announce", "Arrive", "Block", "Create", "Delete", "Dislike", "EmojiReact", "Flag", "Follow",
    "Ignore", "Invite", "Join", "Leave", "Like", "Listen", "Move", "Offer", "Question", "Read", "Reject", "Remove",
    "TentativeAccept", "TentativeReject", "Travel", "Undo", "Update", "View",
})
INBOX_OUTCOMES = frozenset({"accepted", "duplicate", "rejected", "processed", "failed"})
DELIVERY_OUTCOMES = frozenset({"delivered", "retry", "failed", "skipped", "gone"})
REASON_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

REQUESTS = Counter("fedi_http_requests", "HTTP requests answered, by method, route template and status.",
                   ["method", "route", "status"])
REQUEST_SECONDS = Histogram("fedi_http_request_duration_seconds", "Time to answer HTTP requests, by route template.",
                            ["method", "route"])
INBOX_ACTIVITIES = Counter("fedi_inbox_activities", "Activities POSTed to the inboxes and handled by the worker, "
                           "by type and outcome (accepted, duplicate, rejected, processed, failed).",
                           ["type", "outcome", "status"])
DELIVERIES = Counter("fedi_deliveries", "Delivery attempts by outcome (delivered, retry, failed, gone, skipped).",
                     ["outcome"])
SIGNATURE_FAILURES = Counter("fedi_signature_failures", "Incoming HTTP signatures refused, by reason.", ["reason"])

QueueDepth = Callable[[asyncpg.Connection], Awaitable[Mapping[str, float]]]
# Gauges read from the database at scrape time: name -> help text (the keys a QueueDepth returns).
QUEUE_GAUGES = {
    "fedi_inbox_items_pending": "Received activities waiting to be processed.",
    "fedi_deliveries_pending": "Deliveries not yet delivered nor given up.",
    "fedi_deliveries_due": "Pending deliveries whose next attempt is due now.",
    "fedi_deliveries_oldest_due_age_seconds": "How long the oldest due delivery has been waiting (0 when none).",
}


HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# (method, route, status) -> the request counter's and histogram's children: labels are looked up once per
# combination (a bounded set: known methods, route templates, status codes), not on every request.
_request_series: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}


def count_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request under its route template (never its raw path)."""
    key = (method if method in HTTP_METHODS else OTHER, route, status)
    series = _request_series.get(key)
    if series is None:
        series = _request_series[key] = (REQUESTS.labels(key[0], route, str(status)), REQUEST_SECONDS.labels(key[0], route))
    series[0].inc()
    series[1].observe(seconds)


def count_inbox(activity_type: object, outcome: str, status: int | None = None) -> None:
    """Count an inbox activity: ``accepted``/``duplicate``/``rejected`` (with its status) or ``processed``/``failed``."""
    if outcome not in INBOX_OUTCOMES:
        raise ValueError(f"unknown inbox outcome {outcome!r}")
    kind = activity_type if isinstance(activity_type, str) and activity_type in ACTIVITY_TYPES else OTHER
    INBOX_ACTIVITIES.labels(kind, outcome, "" if status is None else str(status)).inc()


def count_delivery(outcome: str, amount: int = 1) -> None:
    """Count delivery attempts (or skipped deliveries) with one of DELIVERY_OUTCOMES."""
    if outcome not in DELIVERY_OUTCOMES:
        raise ValueError(f"unknown delivery outcome {outcome!r}")
    DELIVERIES.labels(outcome).inc(amount)


def count_signature_failure(reason: str) -> None:
    """Count a refused signature under its short reason code (anything else is "other")."""
    SIGNATURE_FAILURES.labels(reason if REASON_RE.match(reason) else OTHER).inc()


def multiprocess_dir() -> str | None:
    """The directory shared by the processes whose counters add up, when there is one."""
    return os.environ.get(MULTIPROC_DIR_VARIABLE) or None


def render_counters() -> bytes:
    """This process's counters, or every process's added up in multiprocess mode."""
    if multiprocess_dir() is None:
        return generate_latest(REGISTRY)
    from prometheus_client.multiprocess import MultiProcessCollector  # only with --workers N

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return generate_latest(registry)


class _Snapshot(Collector):
    """Gauges whose values were read just before rendering."""

    def __init__(self, values: Mapping[str, float]) -> None:
        self.values = values

    def collect(self) -> list[GaugeMetricFamily]:
        return [GaugeMetricFamily(name, text, value=float(self.values.get(name, 0))) for name, text in QUEUE_GAUGES.items()]


def render_gauges(values: Mapping[str, float]) -> bytes:
    """The database gauges in the text format."""
    registry = CollectorRegistry()
    registry.register(_Snapshot(values))
    return generate_latest(registry)


def is_allowed(client: str | None, allowed: tuple[IPNetwork, ...]) -> bool:
    """True when the client address is in one of the ``allowed`` networks."""
    try:
        address = ipaddress.ip_address(client or "")
    except ValueError:
        return False
    return any(address in network for network in allowed)


def build_routes(queue_depth: QueueDepth, allowed: tuple[IPNetwork, ...]) -> list[Route]:
    """``GET /metrics`` for clients in ``allowed``: the counters plus the queue gauges read from the database."""
    # here, not at import: the worker counts but serves no starlette routes
    from starlette.responses import Response
    from starlette.routing import Route

    from fedi.responses import error_response

    async def metrics(request: Request) -> Response:
        """The Prometheus text exposition."""
        client = request.client.host if request.client else None
        if not is_allowed(client, allowed):
            return error_response(403, "metrics are only shown to the addresses in FEDI_METRICS_ALLOW")
        async with request.state.pool.acquire() as conn:
            values = await queue_depth(conn)
        return Response(render_counters() + render_gauges(values), media_type=CONTENT_TYPE_LATEST)

    return [Route("/metrics", metrics, methods=["GET"])]
