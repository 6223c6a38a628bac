"""How much may be sent to our inboxes: token buckets per signing host and per client address.

Each bucket holds up to ``requests`` tokens and refills at ``requests / seconds`` a second, so a
sender may send a burst of ``requests`` at once and then ``requests`` per ``seconds`` on average
(``FEDI_INBOX_RATE_LIMIT``, default 1200 per 60 s: a large server delivering a busy thread fits).
Two kinds of bucket, so nobody can spend someone else's allowance:

- the signing host's, charged only once the signature verified (a forged keyId costs its host
  nothing); with no token left the activity is answered 429, with the seconds until the next
  token as ``Retry-After``;
- the client address's (``request.client.host``, which the trusted proxy middleware sets), charged
  for every request refused with 400, 401 or 403; once it is empty, that address is answered 429
  before its requests are even read. Junk is thus limited by where it comes from.

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
        bucket = self._refilled(host)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return self._wait(bucket)

    def wait(self, host: str) -> int | None:
        """Without taking a token: None when ``host`` has one left, else the whole seconds until it will."""
        bucket = self._buckets.get(host)
        if bucket is None:
            return None
        bucket = self._refilled(host)
        return None if bucket.tokens >= 1 else self._wait(bucket)

    def _refilled(self, host: str) -> _Bucket:
        now = self.clock()
        self._forget_idle(now)
        bucket = self._buckets.pop(host, None) or _Bucket(self.capacity, now)
        bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        self._buckets[host] = bucket  # most recently seen last
        while len(self._buckets) > self.max_hosts:
            self._buckets.popitem(last=False)
        return bucket

    def _wait(self, bucket: _Bucket) -> int:
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


@dataclass(frozen=True)
class InboxLimiters:
    """The app's buckets: per signing host (``hosts``) and per client address of refused requests (``clients``)."""

    hosts: HostRateLimiter
    clients: HostRateLimiter


def inbox_rate_limiter(request: Request) -> InboxLimiters | None:
    """The app's limiters, made on first use from ``inbox_rate_limit`` (None when the limit is off)."""
    state = request.app.state
    limiters: InboxLimiters | None = getattr(state, "inbox_rate_limiters", None)
    if limiters is None:
        limit = request.state.settings.inbox_rate_limit
        if limit is None:
            return None
        limiters = state.inbox_rate_limiters = InboxLimiters(HostRateLimiter(*limit), HostRateLimiter(*limit))
    return limiters
