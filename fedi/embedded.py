"""The embedded PostgreSQL server used when ``DATABASE_URL`` is unset (quick start, tests).

It comes from the ``pgserver`` package, which ships PostgreSQL's binaries; data lives under
``<data_dir>/postgres`` and the server listens on a Unix socket only. Several fedi processes on
the same data directory share one server; it stops when the last of them exits.
"""

from __future__ import annotations

import logging
import subprocess
import warnings
from pathlib import Path
from typing import Any

with warnings.catch_warnings():
    # pgserver asks platformdirs for a runtime dir at import; without XDG_RUNTIME_DIR it warns and uses /tmp.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    import pgserver

from fedi.errors import FediError

log = logging.getLogger(__name__)

DATABASE_NAME = "fedi"


class EmbeddedDatabaseError(FediError):
    """The embedded PostgreSQL server could not be started."""


def start_embedded_postgres(data_dir: Path, database: str = DATABASE_NAME) -> tuple[str, Any]:
    """Start (or join) the server under ``data_dir`` and return its URL and the handle keeping it alive."""
    pgdata = (data_dir / "postgres").resolve()
    pgdata.mkdir(parents=True, exist_ok=True)
    try:
        server = pgserver.get_server(pgdata, cleanup_mode="stop")
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
        if "(1 row)" not in exists:
            server.psql(f'CREATE DATABASE "{database}";')
    except (subprocess.CalledProcessError, OSError, AssertionError) as exc:
        raise EmbeddedDatabaseError(f"could not start the embedded PostgreSQL in {pgdata}: {exc}") from exc
    log.info("embedded PostgreSQL running in %s", pgdata)
    return server.get_uri(database), server
