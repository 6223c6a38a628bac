"""draft-cavage HTTP Signatures, as Mastodon sends and expects them: parsing and signing strings.

``Signature: keyId="...",algorithm="rsa-sha256",headers="(request-target) host date digest",
signature="<base64>"``. Parameter names are matched case-insensitively and in any order; a missing
``algorithm`` means "derive it from the key", as ``hs2019`` does. Only ``rsa-sha256`` and ``hs2019``
are accepted: an ``hmac-*`` algorithm would let anyone holding the (public) key forge signatures.
The signing string is one ``name: value`` line per listed header; ``(request-target)`` is
``<lowercase method> <path?query>`` and ``host`` is the authority the request was addressed to.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from keys.errors import SignatureCheckError
from keys.public_keys import KeyType

# algorithm parameter -> key type it requires (None: whatever the key is).
ALGORITHMS: dict[str, KeyType | None] = {"rsa-sha256": "rsa", "hs2019": None}
_PARAM = re.compile(r'\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*("[^"\\]*(?:\\.[^"\\]*)*"|[^",\s]*)\s*(?:,|$)')
_ESCAPE = re.compile(r"\\(.)")


@dataclass(frozen=True)
class CavageSignature:
    """The parameters of one ``Signature`` header."""

    key_id: str
    algorithm: str
    headers: tuple[str, ...]
    signature: bytes
    created: int | None = None
    expires: int | None = None


def normalize_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header names lowercased; repeated fields joined with ``, `` in order; values trimmed."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    merged: dict[str, str] = {}
    for name, value in pairs:
        key = name.lower()
        merged[key] = f"{merged[key]}, {value.strip()}" if key in merged else value.strip()
    return merged


def parse_signature_header(value: str) -> CavageSignature:
    """The parameters of a ``Signature`` header value (an ``Authorization: Signature`` value also works)."""
    text = value.strip().rstrip(", ")
    if text[:10].lower() == "signature ":
        text = text[10:]
    params: dict[str, str] = {}
    position = 0
    while position < len(text):
        match = _PARAM.match(text, position)
        if match is None or match.end() == position:
            near = text[position : position + 40]
            raise SignatureCheckError("malformed_signature", f"cannot parse Signature header near {near!r}")
        name, raw = match[1].lower(), match[2]
        if name in params:
            raise SignatureCheckError("malformed_signature", f"Signature parameter {name!r} appears twice")
        if raw.startswith('"'):
            raw = _ESCAPE.sub(r"\1", raw[1:-1]) if "\\" in raw else raw[1:-1]
        params[name] = raw
        position = match.end()
    for required in ("keyid", "signature"):
        if not params.get(required):
            raise SignatureCheckError("malformed_signature", f"Signature header has no {required!r}")
    try:
        signature = base64.b64decode(params["signature"], validate=True)
    except ValueError as error:
        raise SignatureCheckError("malformed_signature", f"signature is not base64: {error}") from error
    listed = tuple(params.get("headers", "date").lower().split())
    if not listed:
        raise SignatureCheckError("malformed_signature", "Signature header lists no headers")
    return CavageSignature(
        key_id=params["keyid"],
        algorithm=params.get("algorithm", "hs2019").lower(),
        headers=listed,
        signature=signature,
        created=_integer(params, "created"),
        expires=_integer(params, "expires"),
    )


def required_key_type(algorithm: str) -> KeyType | None:
    """The key type an ``algorithm`` value demands; refuses anything but rsa-sha256 and hs2019."""
    if algorithm not in ALGORITHMS:
        raise SignatureCheckError(
            "unsupported_algorithm", f"algorithm {algorithm!r} is not accepted (use rsa-sha256 or hs2019)"
        )
    return ALGORITHMS[algorithm]


def signing_string(
    signature: CavageSignature, method: str, path_with_query: str, authority: str, headers: Mapping[str, str]
) -> str:
    """The text a cavage signature signs; ``headers`` must be normalized (lowercase names)."""
    lines = []
    for name in signature.headers:
        if name == "(request-target)":
            value = f"{method.lower()} {path_with_query}"
        elif name == "host":
            value = authority
        elif name in ("(created)", "(expires)"):
            number = signature.created if name == "(created)" else signature.expires
            if number is None:
                raise SignatureCheckError("malformed_signature", f"{name} is signed but has no parameter")
            value = str(number)
        elif name in headers:
            value = headers[name]
        else:
            raise SignatureCheckError(
                "malformed_signature", f"signed header {name!r} is absent from the request"
            )
        lines.append(f"{name}: {value}")
    return "\n".join(lines)


def _integer(params: Mapping[str, str], name: str) -> int | None:
    if name not in params:
        return None
    if not (params[name].isascii() and params[name].isdigit()):
        raise SignatureCheckError("malformed_signature", f"Signature parameter {name!r} is not an integer")
    return int(params[name])
