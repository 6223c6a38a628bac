"""503 answers while the database cannot be reached (restarting, down, out of connections).

Without these handlers a lost connection would surface as a 500 with a stack trace. A request that
meets one of ``fedi.database.UNAVAILABLE_ERRORS`` is answered ``503 {"error": ...}`` with a
``Retry-After``, so remote servers retry the delivery later and apps show a temporary failure.
An ``OSError`` counts only when it was raised inside asyncpg: any other one stays a 500.
"""

from __future__ import annotations

import logging
from types import TracebackType

from starlette.requests import Request
from starlette.responses import Response

from fedi.database import UNAVAILABLE_ERRORS
from fedi.responses import error_response

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 10
MESSAGE = "the service is temporarily unavailable (its database cannot be reached); try again shortly"


def raised_by_database_driver(exc: BaseException) -> bool:
    """Whether ``exc`` was raised from inside asyncpg (its traceback passes through the driver)."""
    traceback: TracebackType | None = exc.__traceback__
    while traceback is not None:
        if str(traceback.tb_frame.f_globals.get("__name__", "")).startswith("asyncpg"):
            return True
        traceback = traceback.tb_next
    return False


async def database_unavailable_response(request: Request, exc: Exception) -> Response:
    """``503 {"error": ...}`` with ``Retry-After`` for a lost or refused database connection."""
    if isinstance(exc, OSError) and not raised_by_database_driver(exc):
        raise exc  # not the database: an ordinary server error
    log.warning("%s %s: database unavailable: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
    return error_response(503, MESSAGE, {"Retry-After": str(RETRY_AFTER_SECONDS)})


handlers = {error: database_unavailable_response for error in UNAVAILABLE_ERRORS}
