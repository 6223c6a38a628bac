"""Application-wide behaviour: browser apps on other origins may call the API."""

from __future__ import annotations

import aiohttp


async def test_cors_preflight_for_browser_apps(server: str, http: aiohttp.ClientSession) -> None:
    headers = {
        "Origin": "https://elk.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    async with http.options(f"{server}/api/v1/statuses", headers=headers) as response:
        assert response.status == 200
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()
    async with http.get(f"{server}/api/v1/instance", headers={"Origin": "https://elk.example"}) as response:
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "Link" in response.headers["Access-Control-Expose-Headers"]
