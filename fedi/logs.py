"""Logging: one JSON object per line (or plain text at a terminal), each record tagged with its request id.

The request id of the request being handled lives in a context variable, set by
``fedi.request_ids.RequestIdMiddleware``; ``RequestIdFilter`` copies it onto every record, so a
line logged deep inside a handler says which request it belongs to. Access lines carry ``method``,
``path``, ``status`` and ``duration_ms`` as fields of their own.

Writing is cheap on purpose, as one line is logged per request: ``log_access`` makes its record
without looking up the caller's frame, the JSON is one ``json.dumps`` of a small dict, and
``BatchingStreamHandler`` writes the lines formatted during one turn of the event loop with a single
``write`` at the end of that turn (at once for warnings and errors, and outside a running loop).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import TextIO

FORMATS = ("json", "text")
ACCESS_LOGGER = "fedi.access"
ACCESS_FIELDS = ("method", "path", "status", "duration_ms")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Attach the current request id (or None) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


class BatchingStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes the lines of one event-loop turn together, in the order they were logged."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._pending: list[str] = []
        self._scheduled_on: asyncio.AbstractEventLoop | None = None

    def emit(self, record: logging.LogRecord) -> None:
        """Queue the formatted line; write now for warnings and errors or when no loop runs in this thread."""
        try:
            self._pending.append(self.format(record) + self.terminator)
        except Exception:
            self.handleError(record)
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or record.levelno >= logging.WARNING:
            self.flush()
        elif self._scheduled_on is not loop:
            self._scheduled_on = loop
            loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write every queued line with one ``write``."""
        self.acquire()
        try:
            self._scheduled_on = None
            if self._pending:
                text, self._pending = "".join(self._pending), []
                self.stream.write(text)
            if self.stream and hasattr(self.stream, "flush"):
                self.stream.flush()
        finally:
            self.release()


class JsonFormatter(logging.Formatter):
    """A record as one line of JSON: time, level, logger, message, request_id, access fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for name in ACCESS_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The classic one-line text format, with the request id appended when there is one."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        rid = getattr(record, "request_id", None)
        return f"{text} [{rid}]" if rid else text


access_log = logging.getLogger(ACCESS_LOGGER)


def log_access(method: str, path: str, status: int, duration_ms: float, rid: str | None) -> None:
    """Log a request's ``fedi.access`` line (with its fields and request id) at INFO."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    record = access_log.makeRecord(
        ACCESS_LOGGER, logging.INFO, __file__, 0, "%s %s %d", (method, path, status), None,
        extra={"method": method, "path": path, "status": status, "duration_ms": duration_ms, "request_id": rid},
    )
    access_log.handle(record)


def choose_format(requested: str | None, stream: TextIO) -> str:
    """``requested`` when given, else text at a terminal and JSON otherwise."""
    if requested:
        if requested not in FORMATS:
            raise ValueError(f"log format {requested!r} is not one of {', '.join(FORMATS)}")
        return requested
    return "text" if stream.isatty() else "json"


def configure_logging(log_format: str | None = None, level: int = logging.INFO, stream: TextIO | None = None) -> str:
    """Send every record to ``stream`` (standard error) in ``log_format``; return the format chosen."""
    stream = stream or sys.stderr
    chosen = choose_format(log_format, stream)
    handler = BatchingStreamHandler(stream)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):  # uvicorn's own lines go through ours
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # replaced by fedi.access
    return chosen
