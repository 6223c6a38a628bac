"""``fedi admin reports``: what remote servers reported (Flag) about departments and their posts."""

from __future__ import annotations

import argparse

from fedi.cli.context import migrated_connection, settings_from
from fedi.cli.tables import render_table
from inbox.queries import list_reports

CONTENT_PREVIEW = 120


def add_parsers(admin: argparse._SubParsersAction) -> None:
    """Register ``reports list``."""
    reports = admin.add_parser("reports", help="reports received from other servers").add_subparsers(
        dest="reports_command", required=True, metavar="COMMAND"
    )
    listing = reports.add_parser("list", help="reports, newest first")
    listing.add_argument("--unresolved", action="store_true", help="only reports not resolved yet")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    listing.set_defaults(handler=run_list)


async def run_list(args: argparse.Namespace) -> int:
    """One line per report: id, when, reporter, reported department, post ids, what the reporter wrote."""
    async with migrated_connection(settings_from(args)) as conn:
        reports = await list_reports(conn, args.unresolved, max(args.limit, 1))
    if not reports:
        print("no reports")
        return 0
    rows = [
        (
            r.id,
            r.created_at.isoformat(timespec="seconds"),
            r.reporter,
            r.target,
            ",".join(str(i) for i in r.post_ids),
            r.content[:CONTENT_PREVIEW],
        )
        for r in reports
    ]
    for line in render_table(("ID", "WHEN", "REPORTER", "TARGET", "POSTS", "CONTENT"), rows):
        print(line)
    return 0
