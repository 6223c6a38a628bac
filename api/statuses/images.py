"""What an uploaded image is, read from its own bytes: the format by its magic number, the size by its header.

Only PNG, JPEG, GIF and WebP are accepted; the name and the content type the client sent are not
trusted. Width and height come from the PNG ``IHDR`` chunk, the GIF logical screen, the first JPEG
start-of-frame segment, or the WebP ``VP8 ``/``VP8L``/``VP8X`` chunk, so no imaging library is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.errors import Unprocessable

MAX_PIXELS = 7680 * 4320
# JPEG start-of-frame markers (baseline, progressive, lossless…), which carry the image size.
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xDA)})


@dataclass(frozen=True)
class ImageInfo:
    """An image's content type, file extension and size in pixels."""

    content_type: str
    extension: str
    width: int
    height: int


def _u16be(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 2], "big")


def _u16le(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 2], "little")


def _png(data: bytes) -> tuple[int, int] | None:
    if data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _gif(data: bytes) -> tuple[int, int] | None:
    return (_u16le(data, 6), _u16le(data, 8)) if len(data) >= 10 else None


def _jpeg(data: bytes) -> tuple[int, int] | None:
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _STANDALONE:
            at += 2
            continue
        if marker in _SOF:
            return (_u16be(data, at + 7), _u16be(data, at + 5)) if at + 9 <= len(data) else None
        at += 2 + _u16be(data, at + 2)
    return None


def _webp(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        return _u16le(data, 26) & 0x3FFF, _u16le(data, 28) & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def identify(data: bytes) -> ImageInfo:
    """The format and size of an image, or 422 when it is not a PNG, JPEG, GIF or WebP image that can be read."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        kind, size = ("image/png", "png"), _png(data)
    elif data.startswith(b"\xff\xd8\xff"):
        kind, size = ("image/jpeg", "jpg"), _jpeg(data)
    elif data[:6] in (b"GIF87a", b"GIF89a"):
        kind, size = ("image/gif", "gif"), _gif(data)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        kind, size = ("image/webp", "webp"), _webp(data)
    else:
        raise Unprocessable("Validation failed: File content type is invalid (PNG, JPEG, GIF or WebP images only)")
    if size is None or size[0] <= 0 or size[1] <= 0:
        raise Unprocessable("Validation failed: File is invalid (its image header cannot be read)")
    if size[0] * size[1] > MAX_PIXELS:
        raise Unprocessable(f"Validation failed: File is too large ({size[0]}x{size[1]}; at most {MAX_PIXELS} pixels)")
    return ImageInfo(kind[0], kind[1], size[0], size[1])


CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
