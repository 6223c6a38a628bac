"""``fedi admin queue``: how the queues stand, which deliveries wait or failed, and retrying them now."""

from __future__ import annotations

import argparse
import re

from fedi.cli.context import fail, migrated_connection, settings_from
from fedi.cli.tables import render_table
from fedi.worker import notify_work
from outbox import queue_queries

ERROR_PREVIEW = 80
MAX_LIMIT = 10000
HOST_RE = re.compile(r"^[a-z0-9.-]+(:[0-9]{1,5})?$")


def add_parsers(admin: argparse._SubParsersAction) -> None:
    """Register ``queue status|list|retry``."""
    queue = admin.add_parser("queue", help="received activities and deliveries waiting, failed or retried").add_subparsers(
        dest="queue_command", required=True, metavar="COMMAND"
    )
    queue.add_parser("status", help="counts by state, what is due now, the oldest due delivery, paused hosts").set_defaults(
        handler=run_status
    )
    listing = queue.add_parser("list", help="deliveries, one per line, the next due first")
    listing.add_argument("--state", choices=queue_queries.DELIVERY_STATES, help="only deliveries in this state")
    listing.add_argument("--host", help="only deliveries to this host (host or host:port)")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    listing.set_defaults(handler=run_list)
    retry = queue.add_parser("retry", help="make deliveries due now (failed ones go back to pending)")
    retry.add_argument("ids", nargs="*", metavar="ID", help="delivery ids")
    retry.add_argument("--host", help="every pending or failed delivery to this host (its pause is lifted)")
    retry.add_argument("--failed", action="store_true", help="every failed delivery")
    retry.set_defaults(handler=run_retry)


def checked_host(value: str) -> str:
    """A host name as deliveries store it (lower case, optional port), or exit 2."""
    host = value.strip().lower()
    if not HOST_RE.match(host):
        fail(f"--host {value!r} is not a host name (e.g. mastodon.example or mastodon.example:8443)")
    return host


async def run_status(args: argparse.Namespace) -> int:
    """Counts by state for both queues, due now, the oldest due delivery's age, hosts paused."""
    async with migrated_connection(settings_from(args)) as conn:
        status = await queue_queries.queue_status(conn)
    print("inbox items: " + ", ".join(f"{state} {n}" for state, n in status.inbox.items()) + f"; due now {status.inbox_due}")
    print("deliveries: " + ", ".join(f"{state} {n}" for state, n in status.deliveries.items())
          + f"; due now {status.deliveries_due}")
    print(f"oldest due delivery: {status.oldest_due_seconds:.0f} s" if status.deliveries_due else "oldest due delivery: none")
    if not status.paused_hosts:
        print("hosts paused: none")
    for host, until in status.paused_hosts:
        print(f"host paused: {host} until {until.isoformat(timespec='seconds')}")
    return 0


async def run_list(args: argparse.Namespace) -> int:
    """One delivery per line: id, state, host, attempts, next attempt, last status or error."""
    if not 1 <= args.limit <= MAX_LIMIT:
        fail(f"--limit must be between 1 and {MAX_LIMIT}")
    host = checked_host(args.host) if args.host is not None else None
    async with migrated_connection(settings_from(args)) as conn:
        deliveries = await queue_queries.list_deliveries(conn, state=args.state, host=host, limit=args.limit)
    if not deliveries:
        print("no deliveries")
        return 0
    rows = [
        (
            d.id, d.state, d.host, d.attempts,
            d.next_attempt_at.isoformat(timespec="seconds") if d.state == "pending" else None,
            d.last_status, (d.last_error or "")[:ERROR_PREVIEW],
        )
        for d in deliveries
    ]
    for line in render_table(("ID", "STATE", "HOST", "ATTEMPTS", "NEXT ATTEMPT", "LAST STATUS", "LAST ERROR"), rows):
        print(line)
    return 0


async def run_retry(args: argparse.Namespace) -> int:
    """Make the chosen deliveries due now: ids, every one to a host, or every failed one."""
    chosen = sum((bool(args.ids), args.host is not None, args.failed))
    if chosen != 1:
        fail("give delivery ids, --host HOST or --failed (exactly one of them)")
    ids = [_delivery_id(value) for value in args.ids]
    host = checked_host(args.host) if args.host is not None else None
    async with migrated_connection(settings_from(args)) as conn:
        async with conn.transaction():
            if ids:
                missing = sorted(set(ids) - await queue_queries.existing_delivery_ids(conn, ids))
                if missing:
                    fail("no delivery with id " + ", ".join(str(i) for i in missing))
            retried = await queue_queries.retry_deliveries(conn, ids=ids, host=host, failed=args.failed)
            if retried:
                await notify_work(conn)
    print(f"{retried} deliveries due now")
    return 0


def _delivery_id(value: str) -> int:
    """A delivery id from the command line, or exit 2."""
    if not value.isdigit() or len(value) > 18:
        fail(f"{value!r} is not a delivery id (a positive number)")
    return int(value)
