"""``fedi admin export DEPT`` and ``fedi admin import FILE``: a department's ActivityPub archive.

The format is described in ``outbox.archive``; checking in ``outbox.archive_reading``, the restore in ``outbox.archive_import``. A bad
archive prints ``fedi: error: ...``, exits with status 2 and changes nothing.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path

from actors.departments import get_department
from api.statuses.media import media_dir
from fedi.cli.context import migrated_connection, settings_from
from keys.keypairs import KeyVault
from outbox.archive import archive_kind, build_archive, write_archive
from outbox.archive_import import restore_archive
from outbox.archive_reading import check_archive, read_archive


def add_parsers(admin: argparse._SubParsersAction) -> None:
    """Register ``admin export`` and ``admin import``."""
    export = admin.add_parser("export", help="write a department's posts, followers, replies and media to an archive")
    export.add_argument("department")
    export.add_argument(
        "--output", type=Path, metavar="FILE", help="the .zip or .tar.gz to write (default <department>-<time>.zip here)"
    )
    export.set_defaults(handler=run_export)
    restore = admin.add_parser("import", help="restore a department's archive into this server (same domain)")
    restore.add_argument("file", type=Path, help="an archive written by 'fedi admin export'")
    restore.add_argument("--department", metavar="NAME", help="refuse the archive unless it is of this department")
    restore.set_defaults(handler=run_import)


async def run_export(args: argparse.Namespace) -> int:
    """Write the archive and print what it holds."""
    settings = settings_from(args)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    output = args.output or Path(f"{args.department}-{stamp}.zip")
    archive_kind(output)
    async with migrated_connection(settings) as conn:
        department = await get_department(conn, args.department)
        async with conn.transaction(isolation="repeatable_read"):
            archive = await build_archive(conn, settings, KeyVault(settings.secret_key), department, media_dir(settings))
    write_archive(output, archive)
    print(f"wrote {output}")
    for kind, count in archive.counts.items():
        print(f"{kind.replace('_', ' ')}: {count}")
    return 0


async def run_import(args: argparse.Namespace) -> int:
    """Check the archive whole, restore it in one transaction, and print what changed."""
    settings = settings_from(args)
    restore = check_archive(read_archive(args.file), settings, args.department)
    async with migrated_connection(settings) as conn:
        report = await restore_archive(conn, settings, KeyVault(settings.secret_key), restore, media_dir(settings))
    print(f"department {report.department}: {report.profile}")
    for kind, (new, present) in report.counts.items():
        print(f"{kind}: {new} restored, {present} already present")
    if not report.changed:
        print("nothing changed: everything in the archive was already here")
    return 0
