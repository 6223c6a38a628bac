"""Image uploads: sniffed by their bytes, sized from their header, served, described, attached and federated."""

from __future__ import annotations

import io
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from api.errors import Unprocessable
from api.statuses.images import identify
from fedi.settings import Settings
from tests.api.content_fixtures import Caller, png
from tests.peers import RemotePeer

Call = Callable[[str | None], Caller]

GIF = b"GIF89a" + struct.pack("<HH", 31, 17) + b"\x00" * 20
JPEG = (
    b"\xff\xd8\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x00" * 9
    + b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 480, 640, 1) + b"\x00" * 3 + b"\xff\xd9"
)
WEBP_LOSSLESS = b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8L" + struct.pack("<I", 10) + b"\x2f" + struct.pack(
    "<I", (99) | (49 << 14)
) + b"\x00" * 8
WEBP_EXTENDED = b"RIFF" + struct.pack("<I", 30) + b"WEBPVP8X" + struct.pack("<I", 10) + b"\x00" * 4 + (
    (1919).to_bytes(3, "little") + (1079).to_bytes(3, "little")
)


def form(data: bytes, name: str = "photo.png", content_type: str = "image/png", **fields: str) -> aiohttp.FormData:
    body = aiohttp.FormData()
    body.add_field("file", data, filename=name, content_type=content_type)
    for key, value in fields.items():
        body.add_field(key, value)
    return body


@pytest.mark.parametrize(
    "data,expected",
    [
        (png(3, 2), ("image/png", 3, 2)), (GIF, ("image/gif", 31, 17)), (JPEG, ("image/jpeg", 640, 480)),
        (WEBP_LOSSLESS, ("image/webp", 100, 50)), (WEBP_EXTENDED, ("image/webp", 1920, 1080)),
    ],
)
def test_formats_and_sizes_are_read_from_the_bytes(data: bytes, expected: tuple[str, int, int]) -> None:
    info = identify(data)
    assert (info.content_type, info.width, info.height) == expected


@pytest.mark.parametrize("data", [b"<svg xmlns='http://www.w3.org/2000/svg'/>", b"\x89PNG\r\n\x1a\n", b"", b"GIF89a"])
def test_other_files_are_refused(data: bytes) -> None:
    with pytest.raises(Unprocessable):
        identify(data)


async def test_upload_describe_attach_and_federate(
    caller: Call, conn: asyncpg.Connection, settings: Settings, http: aiohttp.ClientSession, server: str,
    peer: RemotePeer, deliver_outgoing: Callable[[], Awaitable[int]],
) -> None:
    image = png(40, 30)
    uploaded = await caller("editor")("POST", "/api/v2/media", data=form(image, name="x.svg", content_type="image/svg+xml",
                                                                          description="A reading room", focus="0.5,-0.25"))
    assert uploaded.status == 200, uploaded.body
    media = uploaded.body
    assert media["type"] == "image" and media["description"] == "A reading room" and media["blurhash"] is None
    assert media["meta"]["original"] == {"width": 40, "height": 30, "size": "40x30", "aspect": 40 / 30}
    assert media["meta"]["focus"] == {"x": 0.5, "y": -0.25}
    name = media["url"].rsplit("/", 1)[1]
    assert media["url"] == f"https://city.example/media/{name}" and name.endswith(".png")
    assert (Path(settings.data_dir) / "media" / name).read_bytes() == image
    async with http.get(f"{server}/media/{name}") as response:
        assert response.status == 200 and response.headers["Content-Type"] == "image/png"
        assert await response.read() == image

    described = await caller("editor")("PUT", f"/api/v1/media/{media['id']}", data={"description": "The reading room"})
    assert described.body["description"] == "The reading room"
    assert (await caller("editor")("GET", f"/api/v1/media/{media['id']}")).body["description"] == "The reading room"

    # alice follows the library, so she receives the post with its attachment
    alice = peer.users["alice"]
    library_uri = "https://city.example/users/library"
    await conn.execute(
        """INSERT INTO actors (uri, local, actor_type, username, domain, inbox_url, shared_inbox_url)
           VALUES ($1, false, 'Person', 'alice', $2, $3, $4)""",
        alice.uri, peer.host, alice.inbox, f"{peer.base_url}/inbox",
    )
    await conn.execute(
        """INSERT INTO follows (uri, follower_id, followee_id, state)
           SELECT 'https://x.test/follow', a.id, l.id, 'accepted' FROM actors a, actors l WHERE a.uri = $1 AND l.uri = $2""",
        alice.uri, library_uri,
    )
    status = await caller("editor")("POST", "/api/v1/statuses", json={"status": "", "media_ids": [media["id"]]})
    assert status.status == 200 and [m["id"] for m in status.body["media_attachments"]] == [media["id"]]
    await deliver_outgoing()
    create = next(r.activity for r in peer.received if r.activity["type"] == "Create")
    assert create["object"]["attachment"] == [{
        "type": "Document", "mediaType": "image/png", "url": media["url"], "name": "The reading room", "width": 40,
        "height": 30,
    }]
    # an attached upload cannot go on another post; deleting the post frees it for a redraft
    again = await caller("editor")("POST", "/api/v1/statuses", json={"status": "again", "media_ids": [media["id"]]})
    assert again.status == 422
    deleted = await caller("editor")("DELETE", f"/api/v1/statuses/{status.body['id']}")
    assert [m["id"] for m in deleted.body["media_attachments"]] == [media["id"]]
    redraft = await caller("editor")("POST", "/api/v1/statuses", json={"status": "again", "media_ids": [media["id"]]})
    assert redraft.status == 200


async def test_upload_errors(caller: Call, http: aiohttp.ClientSession, server: str) -> None:
    assert (await caller(None)("POST", "/api/v2/media", data=form(png(1, 1)))).status == 401
    assert (await caller("viewer")("POST", "/api/v2/media", data=form(png(1, 1)))).status == 403
    svg = await caller("editor")("POST", "/api/v2/media", data=form(b"<svg/>", content_type="image/png"))
    assert svg.status == 422 and "content type" in svg.body["error"]
    boundary = "b0undary"
    huge = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n"
        "Content-Type: image/png\r\n\r\n"
    ).encode() + png(1, 1) + b"\x00" * (11 * 1024 * 1024) + f"\r\n--{boundary}--\r\n".encode()
    too_big = await caller("editor")(
        "POST", "/api/v2/media", data=io.BytesIO(huge), headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    assert too_big.status == 413 and "error" in too_big.body
    no_file = await caller("editor")("POST", "/api/v2/media", data={"description": "x"})
    assert no_file.status == 422
    long_alt = await caller("editor")("POST", "/api/v2/media", data=form(png(1, 1), description="x" * 1501))
    assert long_alt.status == 422
    bad_focus = await caller("editor")("POST", "/api/v2/media", data=form(png(1, 1), focus="2,0"))
    assert bad_focus.status == 422
    mine = (await caller("editor")("POST", "/api/v2/media", data=form(png(1, 1)))).body
    assert (await caller("museum")("GET", f"/api/v1/media/{mine['id']}")).status == 404
    assert (await caller("museum")("PUT", f"/api/v1/media/{mine['id']}", data={"description": "x"})).status == 404
    used = await caller("museum")("POST", "/api/v1/statuses", json={"status": "x", "media_ids": [mine["id"]]})
    assert used.status == 422
    for name in ("../secret_key", "nothing.png", "0" * 32 + ".png"):
        async with http.get(f"{server}/media/{name}") as response:
            assert response.status == 404
