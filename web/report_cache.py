"""A few minutes' memory of transparency reports, per application.

The report counts a year of posts and replies, which takes a noticeable fraction of a second at
city scale, and its figures move slowly; so each app keeps the reports it computed for
``CACHE_SECONDS`` (the same time it tells browsers and proxies they may keep them). The cache
lives on the application's state, so two apps in one process (tests) never share it.
"""

from __future__ import annotations

from starlette.requests import Request

from fedi.caches import TimedCache

CACHE_SECONDS = 300
MAX_ENTRIES = 256
_STATE_NAME = "web_report_cache"


def report_cache(request: Request) -> TimedCache[object]:
    """The cache of the application serving ``request`` (made on first use)."""
    state = request.app.state
    cache = getattr(state, _STATE_NAME, None)
    if cache is None:
        cache = TimedCache[object](CACHE_SECONDS, MAX_ENTRIES)
        setattr(state, _STATE_NAME, cache)
    return cache
