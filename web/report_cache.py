"""A few minutes' memory of transparency reports, per application.

The report counts a year of posts and replies, which takes a noticeable fraction of a second at
city scale, and its figures move slowly; so each app keeps the reports it computed for
``CACHE_SECONDS`` (the same time it tells browsers and proxies they may keep them). The cache
lives on the application's state, so two apps in one process (tests) never share it.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from starlette.requests import Request

CACHE_SECONDS = 300
MAX_ENTRIES = 256
_STATE_NAME = "web_report_cache"

T = TypeVar("T")


@dataclass
class TimedCache(Generic[T]):
    """Values kept for ``seconds`` after they were stored, at most ``size`` of them."""

    seconds: float = CACHE_SECONDS
    size: int = MAX_ENTRIES
    entries: dict[Hashable, tuple[float, T]] = field(default_factory=dict)

    def get(self, key: Hashable) -> T | None:
        """The value stored under ``key`` if it is still fresh."""
        found = self.entries.get(key)
        if found is None or found[0] <= time.monotonic():
            self.entries.pop(key, None)
            return None
        return found[1]

    def put(self, key: Hashable, value: T) -> None:
        """Keep ``value`` under ``key``; the oldest entry goes when the cache is full."""
        if len(self.entries) >= self.size:
            self.entries.pop(next(iter(self.entries)))
        self.entries[key] = (time.monotonic() + self.seconds, value)


def report_cache(request: Request) -> TimedCache[object]:
    """The cache of the application serving ``request`` (made on first use)."""
    state = request.app.state
    cache = getattr(state, _STATE_NAME, None)
    if cache is None:
        cache = TimedCache[object]()
        setattr(state, _STATE_NAME, cache)
    return cache
