"""Structured logs: one JSON object per line, request ids accepted or generated, echoed and on every record."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import aiohttp
import pytest

from fedi.logs import JsonFormatter, RequestIdFilter, TextFormatter, choose_format, request_id
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
