"""Body digests: ``Digest: SHA-256=<b64>`` (RFC 3230) and ``Content-Digest: sha-256=:<b64>:`` (RFC 9530).

A field may list several algorithms. Checking accepts SHA-256 and SHA-512, ignores algorithms it does
not know (``MD5``, ``unixsum``...), requires at least one it knows, and requires every one it knows to
match the body, so a correct SHA-256 cannot carry a forged SHA-512 along.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from keys.errors import SignatureCheckError

_HASHES = {
    "sha-256": hashlib.sha256,
    "sha-512": hashlib.sha512,
}
# One Content-Digest member: key=:byte sequence: with optional parameters (RFC 8941 dictionary).
_CONTENT_MEMBER = re.compile(r"([a-z*][a-z0-9_.*-]*)=:([A-Za-z0-9+/=]*):(?:;[^,]*)?")


def make_digest(body: bytes) -> str:
    """The ``Digest`` header value for a body: ``SHA-256=<base64>``."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def make_content_digest(body: bytes) -> str:
    """The ``Content-Digest`` header value for a body: ``sha-256=:<base64>:``."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


def check_digest(value: str, body: bytes) -> None:
    """Raise ``SignatureCheckError`` unless the ``Digest`` header value matches the body."""
    digests: dict[str, bytes] = {}
    for member in value.split(","):
        name, sep, encoded = member.strip().partition("=")
        if not sep or not name:
            raise SignatureCheckError(
                "malformed_digest", f"Digest member {member.strip()!r} is not algo=value"
            )
        algorithm = name.strip().lower()
        if algorithm in _HASHES:
            digests[algorithm] = _decode(encoded.strip(), "Digest")
    _compare(digests, body, "Digest")


def check_content_digest(value: str, body: bytes) -> None:
    """Raise ``SignatureCheckError`` unless the ``Content-Digest`` header value matches the body."""
    digests: dict[str, bytes] = {}
    for member in value.split(","):
        match = _CONTENT_MEMBER.fullmatch(member.strip())
        if match is None:
            raise SignatureCheckError(
                "malformed_digest", f"Content-Digest member {member.strip()!r} is not algo=:base64:"
            )
        if match[1] in _HASHES:
            digests[match[1]] = _decode(match[2], "Content-Digest")
    _compare(digests, body, "Content-Digest")


def _decode(encoded: str, field: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError as error:
        raise SignatureCheckError("malformed_digest", f"{field} value is not base64: {error}") from error


def _compare(digests: dict[str, bytes], body: bytes, field: str) -> None:
    if not digests:
        raise SignatureCheckError(
            "unsupported_digest", f"{field} names no supported algorithm (use SHA-256 or SHA-512)"
        )
    for algorithm, expected in digests.items():
        if not hmac.compare_digest(expected, _HASHES[algorithm](body).digest()):
            raise SignatureCheckError("digest_mismatch", f"{field} {algorithm} does not match the body")
