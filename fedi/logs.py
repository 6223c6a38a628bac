"""Logging: one JSON object per line (or plain text at a terminal), each record tagged with its request id.

The request id of the request being handled lives in a context variable, set by
``fedi.request_ids.RequestIdMiddleware``; ``RequestIdFilter`` copies it onto every record, so a
line logged deep inside a handler says which request it belongs to. Access lines carry ``method``,
``path``, ``status`` and ``duration_ms`` as fields of their own.
"""

from __future__ import annotations

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
    handler = logging.StreamHandler(stream)
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
