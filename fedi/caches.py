"""A small in-process cache with a time limit and a size limit.

Caches are only caches: several fedi processes may run, so what one holds may be up to ``seconds``
old, and the database stays the truth.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")
Clock = Callable[[], float]


class TimedCache(Generic[V]):
    """At most ``size`` values, each forgotten ``seconds`` after it was put; the least recently put go first."""

    def __init__(self, seconds: float, size: int = 1024, clock: Clock = time.monotonic) -> None:
        self.seconds = seconds
        self.size = size
        self.clock = clock
        self.entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()

    def get(self, key: Hashable) -> V | None:
        """The value put under ``key``, unless it expired."""
        found = self.entries.get(key)
        if found is None:
            return None
        if found[0] <= self.clock():
            del self.entries[key]
            return None
        return found[1]

    def put(self, key: Hashable, value: V) -> None:
        """Remember ``value`` under ``key`` for ``seconds``."""
        self.entries.pop(key, None)
        self.entries[key] = (self.clock() + self.seconds, value)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)

    def discard(self, key: Hashable) -> None:
        """Forget ``key``."""
        self.entries.pop(key, None)

    def __len__(self) -> int:
        return len(self.entries)
