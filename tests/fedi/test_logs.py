"""Structured logs: one JSON object per line, request ids accepted or generated, echoed and on every record."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import Iterator

import aiohttp
import pytest

from fedi.logs import BatchingStreamHandler, JsonFormatter, RequestIdFilter, TextFormatter, choose_format, log_access, request_id
from fedi.request_ids import accepted_request_id


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Every record logged during the test, as fedi's JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_a_request_id_is_echoed_and_on_every_line_of_its_request(
    server: str, http: aiohttp.ClientSession, captured: io.StringIO
) -> None:
    async with http.post(f"{server}/inbox", data=b"not json", headers={
        "Content-Type": "application/activity+json", "X-Request-Id": "req-42.abc",
    }) as response:
        assert response.status == 400
        assert response.headers["X-Request-Id"] == "req-42.abc"
    records = [line for line in lines(captured) if line["request_id"] == "req-42.abc"]
    refused = [r for r in records if r["logger"] == "inbox.pipeline"]
    assert refused and str(refused[0]["message"]).startswith("inbox: refused 400 /inbox")
    access = [r for r in records if r["logger"] == "fedi.access"]
    assert len(access) == 1
    assert {k: access[0][k] for k in ("level", "method", "path", "status")} == {
        "level": "INFO", "method": "POST", "path": "/inbox", "status": 400,
    }
    assert isinstance(access[0]["duration_ms"], float) and str(access[0]["time"]).endswith("+00:00")


@pytest.mark.parametrize("sent", [None, "", "has space", "<script>", "x" * 65, "ünïcode"])
async def test_a_missing_or_unsafe_request_id_is_replaced(
    server: str, http: aiohttp.ClientSession, captured: io.StringIO, sent: str | None
) -> None:
    headers = {} if sent is None else {"X-Request-Id": sent}
    async with http.get(f"{server}/healthz", headers=headers) as response:
        assert response.status == 200
        echoed = response.headers["X-Request-Id"]
    assert echoed != sent and len(echoed) == 32 and all(c in "0123456789abcdef" for c in echoed)
    access = [r for r in lines(captured) if r["logger"] == "fedi.access" and r["request_id"] == echoed]
    assert len(access) == 1 and access[0]["path"] == "/healthz"


async def test_requests_get_different_ids(server: str, http: aiohttp.ClientSession) -> None:
    ids = set()
    for _ in range(3):
        async with http.get(f"{server}/healthz") as response:
            ids.add(response.headers["X-Request-Id"])
    assert len(ids) == 3


def test_records_outside_a_request_have_no_id_and_exceptions_are_kept() -> None:
    record = logging.LogRecord("fedi.worker", logging.ERROR, __file__, 1, "item %s failed", ("7",), None)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    RequestIdFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] is None and line["message"] == "item 7 failed" and line["level"] == "ERROR"
    assert "RuntimeError: boom" in str(line["exception"])
    token = request_id.set("abc")
    try:
        record = logging.LogRecord("fedi", logging.INFO, __file__, 1, "hello", (), None)
        RequestIdFilter().filter(record)
        assert TextFormatter().format(record).endswith("INFO fedi: hello [abc]")
    finally:
        request_id.reset(token)


def test_the_format_is_json_unless_at_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert choose_format(None, io.StringIO()) == "json"
    assert choose_format(None, Terminal()) == "text"
    assert choose_format("json", Terminal()) == "json"
    with pytest.raises(ValueError):
        choose_format("xml", io.StringIO())
    assert accepted_request_id("abc-1") == "abc-1"


async def test_lines_of_one_loop_turn_are_written_together_and_in_order() -> None:
    class Recording(io.StringIO):
        def __init__(self) -> None:
            super().__init__()
            self.writes: list[str] = []

        def write(self, text: str) -> int:
            self.writes.append(text)
            return super().write(text)

    stream = Recording()
    handler = BatchingStreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("fedi.tests.batching")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        logger.info("one")
        logger.info("two")
        assert stream.writes == []  # written when this turn of the loop ends
        await asyncio.sleep(0)
        assert len(stream.writes) == 1
        assert [line["message"] for line in lines(stream)] == ["one", "two"]
        logger.info("three")
        logger.warning("four")  # warnings and errors are written at once, after what was waiting
        assert [line["message"] for line in lines(stream)] == ["one", "two", "three", "four"]
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    handler.flush()


def test_outside_an_event_loop_lines_are_written_at_once() -> None:
    stream = io.StringIO()
    handler = BatchingStreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    record = logging.LogRecord("fedi.worker", logging.INFO, __file__, 1, "started", (), None)
    handler.handle(record)
    assert [line["message"] for line in lines(stream)] == ["started"]


async def test_access_lines_carry_their_fields_and_the_request_id(captured: io.StringIO) -> None:
    log_access("GET", "/users/library", 200, 1.5, "req-7")
    line = next(line for line in lines(captured) if line["logger"] == "fedi.access")
    assert {k: line[k] for k in ("level", "message", "method", "path", "status", "duration_ms", "request_id")} == {
        "level": "INFO", "message": "GET /users/library 200", "method": "GET", "path": "/users/library",
        "status": 200, "duration_ms": 1.5, "request_id": "req-7",
    }
