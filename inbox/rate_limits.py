"""How much one remote host may send to our inboxes: a token bucket per signing host.

Each host's bucket holds up to ``requests`` tokens and refills at ``requests / seconds`` a second, so a
host may send a burst of ``requests`` at once and then ``requests`` per ``seconds`` on average
(``FEDI_INBOX_RATE_LIMIT``, default 300 per 60 s). A request takes a token; with none left it is
answered 429 with the seconds until the next one as ``Retry-After``.

The buckets live in this process's memory: each ``fedi serve`` process limits on its own (with N
processes behind a load balancer a host may send up to N times as much), and a restart forgets
them. That is enough for a limit whose job is to keep one host from flooding the queue. Memory is
bounded: a host idle long enough to have a full bucket again is forgotten (it lost nothing), and
beyond ``max_hosts`` the least recently seen hosts are forgotten first.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request

MAX_HOSTS = 10_000

Clock = Callable[[], float]


@dataclass
class _Bucket:
    tokens: float
    updated: float


class HostRateLimiter:
    """Token buckets per remote host, in this process's memory (see the module docstring)."""

    def __init__(self, requests: int, seconds: float, *, max_hosts: int = MAX_HOSTS, clock: Clock = time.monotonic) -> None:
        if requests < 1 or seconds <= 0:
            raise ValueError("a rate limit needs at least 1 request per a positive number of seconds")
        self.capacity = float(requests)
        self.rate = requests / seconds
        self.max_hosts = max_hosts
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, host: str) -> int | None:
        """Take a token for ``host``: None when it may go on, else the whole seconds until it may retry."""
        now = self.clock()
        self._forget_idle(now)
        bucket = self._buckets.pop(host, None) or _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        self._buckets[host] = bucket  # most recently seen last
        while len(self._buckets) > self.max_hosts:
            self._buckets.popitem(last=False)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return max(1, math.ceil((1 - bucket.tokens) / self.rate))

    def __len__(self) -> int:
        """How many hosts are remembered."""
        return len(self._buckets)

    def _forget_idle(self, now: float) -> None:
        """Drop the least recently seen hosts whose buckets have refilled completely."""
        full_after = self.capacity / self.rate
        while self._buckets:
            host, bucket = next(iter(self._buckets.items()))
            if now - bucket.updated < full_after:
                return
            del self._buckets[host]


def inbox_rate_limiter(request: Request) -> HostRateLimiter | None:
    """The app's limiter, made on first use from ``inbox_rate_limit`` (None when the limit is off)."""
    state = request.app.state
    limiter: HostRateLimiter | None = getattr(state, "inbox_rate_limiter", None)
    if limiter is None:
        limit = request.state.settings.inbox_rate_limit
        if limit is None:
            return None
        limiter = state.inbox_rate_limiter = HostRateLimiter(*limit)
    return limiter
