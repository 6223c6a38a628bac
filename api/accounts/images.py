"""The placeholder avatar and header of accounts that have none, at the paths Mastodon serves them from.

Clients require an image URL in every Account; these plain PNGs are drawn once in memory.
"""

from __future__ import annotations

import struct
import zlib
from functools import cache

from starlette.requests import Request
from starlette.responses import Response

AVATAR_SIZE = (120, 120)
HEADER_SIZE = (600, 200)
AVATAR_COLOUR = (0x9B, 0xAE, 0xC8)
HEADER_COLOUR = (0xD9, 0xE1, 0xE8)
CACHE = {"Cache-Control": "public, max-age=86400"}


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def solid_png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    """A PNG of one colour (8-bit RGB, no filtering)."""
    rows = (b"\x00" + bytes(colour) * width) * height
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunks = _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows, 9)) + _chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


@cache
def _avatar() -> bytes:
    return solid_png(*AVATAR_SIZE, AVATAR_COLOUR)


@cache
def _header() -> bytes:
    return solid_png(*HEADER_SIZE, HEADER_COLOUR)


async def missing_avatar(request: Request) -> Response:
    """The placeholder avatar."""
    return Response(_avatar(), media_type="image/png", headers=CACHE)


async def missing_header(request: Request) -> Response:
    """The placeholder header (also the instance's thumbnail)."""
    return Response(_header(), media_type="image/png", headers=CACHE)
