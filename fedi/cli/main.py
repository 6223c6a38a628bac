"""Entry point of the ``fedi`` command: parses arguments and runs one subcommand.

Only the module of the command being run is imported (``COMMANDS``): ``fedi worker`` then loads no
web routes, templates or ASGI server, and stays small for as long as it runs. ``fedi --help`` and a
misspelt command load them all, to list every command.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from actors.errors import ActorsError
from fedi import __version__
from fedi.cli.context import USAGE_ERROR
from fedi.errors import FediError, SettingsError

# Each command and the module registering it, in the order ``fedi --help`` lists them.
COMMANDS = {
    "serve": "fedi.cli.server", "quickstart": "fedi.cli.server",
    "worker": "fedi.cli.worker",
    "db": "fedi.cli.database",
    "admin": "fedi.cli.admin",
    "post": "fedi.cli.posts",
    "like": "fedi.cli.interactions", "unlike": "fedi.cli.interactions",
    "boost": "fedi.cli.interactions", "unboost": "fedi.cli.interactions",
}
# glibc gives each thread that allocates its own malloc arena (up to 8 per core), each keeping freed
# memory; two are plenty for one event loop and a few helper threads (DNS, key generation).
MALLOC_ARENAS = 2
M_ARENA_MAX = -8  # mallopt parameter, from glibc's malloc.h


def limit_malloc_arenas() -> None:
    """Cap glibc's malloc arenas at MALLOC_ARENAS (before any thread starts), unless MALLOC_ARENA_MAX is set."""
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, MALLOC_ARENAS)
    except (OSError, AttributeError):  # not glibc
        pass


def global_options(parser: argparse.ArgumentParser) -> None:
    """The options given before the command."""
    parser.add_argument("--config", metavar="FILE", help="TOML settings file (environment variables win)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")


def command_in(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names, if any (the first word after the global options)."""
    words = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    global_options(words)
    rest = words.parse_known_args(list(argv))[1]
    return rest[0] if rest and rest[0] in COMMANDS else None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command tree: of ``command`` only when one is given, else all of it."""
    parser = argparse.ArgumentParser(prog="fedi", description="Federated accounts for every department.")
    parser.add_argument("--version", action="version", version=f"fedi {__version__}")
    global_options(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules = [COMMANDS[command]] if command is not None else list(dict.fromkeys(COMMANDS.values()))
    for module in modules:
        importlib.import_module(module).add_parsers(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``fedi`` with ``argv``; return the exit status."""
    limit_malloc_arenas()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(command_in(argv)).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("pgserver").setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    try:
        with asyncio.Runner(loop_factory=getattr(args, "loop_factory", None)) as runner:
            return runner.run(args.handler(args)) or 0
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
