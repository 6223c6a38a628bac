"""Entry point of the ``fedi`` command: parses arguments and runs one subcommand."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from actors.errors import ActorsError
from fedi import __version__
from fedi.cli import admin, database, interactions, posts, server, worker
from fedi.cli.context import USAGE_ERROR
from fedi.errors import FediError, SettingsError


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(prog="fedi", description="Federated accounts for every department.")
    parser.add_argument("--version", action="version", version=f"fedi {__version__}")
    parser.add_argument("--config", metavar="FILE", help="TOML settings file (environment variables win)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    server.add_parsers(commands)
    worker.add_parsers(commands)
    database.add_parsers(commands)
    admin.add_parsers(commands)
    posts.add_parsers(commands)
    interactions.add_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fedi`` with ``argv``; return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("pgserver").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        return asyncio.run(args.handler(args)) or 0
    except (SettingsError, ActorsError) as exc:
        print(f"fedi: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except FediError as exc:
        print(f"fedi: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
