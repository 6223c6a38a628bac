"""Signing outgoing requests: draft-cavage (what Mastodon expects today) and RFC 9421.

Both return the complete header set to send: the caller's headers plus the signature headers, any
caller header of the same name (in any case) replaced. The URL must be exactly what goes on the wire
(already percent-encoded), because its path and query are signed as given.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import format_datetime
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from keys.digests import make_content_digest, make_digest
from keys.message_signatures import Component, Params, serialize_signature_params, signature_base
from keys.signatures import normalize_headers

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey

_DEFAULT_PORTS = {"https": 443, "http": 80}


_PKCS1V15 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()


def sign_bytes(private_key: PrivateKey, data: bytes) -> bytes:
    """Raw signature: RSASSA-PKCS1-v1_5 SHA-256 for RSA keys, Ed25519 for Ed25519 keys."""
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(data, _PKCS1V15, _SHA256)
    return private_key.sign(data)


def http_date(moment: datetime) -> str:
    """A ``Date`` header value in the RFC 7231 IMF-fixdate format (always GMT)."""
    return format_datetime(moment.astimezone(timezone.utc), usegmt=True)


_current_date: tuple[int, str] = (0, "")


def current_http_date() -> str:
    """The ``Date`` header value for now, formatted once per second."""
    global _current_date
    second = int(time.time())
    if _current_date[0] != second:
        _current_date = (second, http_date(datetime.fromtimestamp(second, timezone.utc)))
    return _current_date[1]


def sign_request(
    method: str,
    url: str,
    headers: Mapping[str, str] | None,
    body: bytes | None,
    key_id: str,
    private_key: PrivateKey,
    *,
    now: datetime | None = None,
    digest: str | None = None,
) -> dict[str, str]:
    """Headers to send with a draft-cavage ``Signature`` over (request-target), host, date [and digest].

    ``digest`` is the body's ``Digest`` value when the caller computed it already (one body sent to many inboxes).
    """
    host, path = _host_and_path(url)
    date = http_date(now) if now is not None else current_http_date()
    added = {"Host": host, "Date": date}
    # The signing string of these fixed headers (what keys.signatures.signing_string builds), written out.
    text = f"(request-target): {method.lower()} {path}\nhost: {host}\ndate: {date.strip()}"
    listed = "(request-target) host date"
    if body is not None:
        added["Digest"] = digest = digest or make_digest(body)
        text += f"\ndigest: {digest.strip()}"
        listed += " digest"
    algorithm = "rsa-sha256" if isinstance(private_key, rsa.RSAPrivateKey) else "hs2019"
    signature = base64.b64encode(sign_bytes(private_key, text.encode("utf-8"))).decode("ascii")
    added["Signature"] = (
        f'keyId="{_quote(key_id)}",algorithm="{algorithm}",headers="{listed}",signature="{signature}"'
    )
    return _merge(headers, added)


def sign_request_rfc9421(
    method: str,
    url: str,
    headers: Mapping[str, str] | None,
    body: bytes | None,
    key_id: str,
    private_key: PrivateKey,
    *,
    now: datetime | None = None,
    label: str = "sig1",
) -> dict[str, str]:
    """Headers to send with an RFC 9421 signature over @method, @target-uri [and content-digest]."""
    host, path = _host_and_path(url)
    target_uri = f"{urlsplit(url).scheme.lower()}://{host}{path}"
    added: dict[str, str] = {}
    names = ["@method", "@target-uri"]
    if body is not None:
        added["Content-Digest"] = make_content_digest(body)
        names.append("content-digest")
    created = int((now or datetime.now(timezone.utc)).timestamp())
    alg = "rsa-v1_5-sha256" if isinstance(private_key, rsa.RSAPrivateKey) else "ed25519"
    params: Params = {"created": created, "keyid": key_id, "alg": alg}
    components: tuple[Component, ...] = tuple((name, {}) for name in names)
    base = signature_base(components, params, method, target_uri, normalize_headers(added))
    signature = base64.b64encode(sign_bytes(private_key, base)).decode("ascii")
    added["Signature-Input"] = f"{label}={serialize_signature_params(components, params)}"
    added["Signature"] = f"{label}=:{signature}:"
    return _merge(headers, added)


def _host_and_path(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"cannot sign a request to {url!r}: the URL has no host")
    host = parts.netloc.rpartition("@")[2].lower()
    if parts.port is not None and parts.port == _DEFAULT_PORTS.get(parts.scheme):
        host = host.rpartition(":")[0]
    return host, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _merge(headers: Mapping[str, str] | None, added: dict[str, str]) -> dict[str, str]:
    if not headers:
        return added
    replaced = {name.lower() for name in added}
    kept = {name: value for name, value in (headers or {}).items() if name.lower() not in replaced}
    return kept | added


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
