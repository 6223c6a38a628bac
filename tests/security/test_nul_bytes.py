"""A NUL byte anywhere in a request's path or query is bad input (4xx), never a server error.

PostgreSQL's text cannot hold NUL, so a name or query reaching a query with one would fail there.
"""

from __future__ import annotations

import aiohttp
import pytest
from yarl import URL

from actors.queries import LocalActor

NUL_URLS = [
    "/users/%00",
    "/users/library%00",
    "/users/%00/outbox",
    "/users/%00/outbox?page=true",
    "/users/%00/followers",
    "/users/%00/following",
    "/users/%00/collections/featured",
    "/users/library/statuses/%00",
    "/users/library/feed.atom%00",
    "/@%00",
    "/.well-known/webfinger?resource=acct:%00@city.example",
    "/api/v1/accounts/lookup?acct=%00",
    "/api/v1/accounts/%00",
    "/api/v1/statuses/%00",
    "/api/v2/search?q=%00",
    "/api/v1/timelines/tag/%00",
    "/search?q=%00",
    "/archive/%00",
    "/oauth/authorize?client_id=%00&redirect_uri=urn:ietf:wg:oauth:2.0:oob&response_type=code",
]


@pytest.mark.parametrize("path", NUL_URLS)
async def test_a_nul_byte_in_the_address_is_refused_not_a_server_error(
    http: aiohttp.ClientSession, server: str, library: LocalActor, path: str
) -> None:
    for accept in ("text/html", "application/activity+json"):
        async with http.get(URL(server + path, encoded=True), headers={"Accept": accept}) as response:
            assert response.status < 500, (path, accept, response.status, await response.text())
