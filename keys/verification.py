"""Checking signed incoming requests: ``SignatureChecker`` and its frozen ``VerifiedSignature`` result.

The scheme is picked from the headers: ``Signature-Input`` means RFC 9421, a lone ``Signature`` (or
``Authorization: Signature ...``) means draft-cavage. Policy comes before any key lookup, so junk
costs no fetch: the request target, host and date must be signed (for RFC 9421: ``@method``,
``@target-uri`` or ``@authority`` with ``@path``, and a ``created`` parameter); a request with a
body (or a POST, PUT or PATCH) must also sign its digest, which must match the body; the date must
lie within ``max_age`` in the past and ``max_future`` ahead. Cavage senders may sign
``content-digest`` in place of ``digest``; on bodiless requests a cavage ``(request-target)`` without the
query string is also accepted, as older Mastodon versions sign it that way. Given an ``authority``
(our own domain), the request must have been addressed to it: a valid signature made for another
server is refused (``wrong_host``), so it cannot be replayed to us. The key comes from the
injected ``lookup(key_id, refresh)``; when the cached key does not verify, it is fetched again once,
which handles key rotation.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Literal

from keys.digests import check_content_digest, check_digest
from keys.errors import PublicKeyError, SignatureCheckError
from keys.message_signatures import (
    ALGORITHM_OF_KEY_TYPE,
    ALGORITHMS,
    MessageSignature,
    parse_message_signatures,
    signature_base,
)
from keys.public_keys import KeyType, PublicKey, load_public_key, verify_raw
from keys.signatures import normalize_headers, parse_signature_header, required_key_type, signing_string

logger = logging.getLogger(__name__)

KeyLookup = Callable[[str, bool], Awaitable[PublicKey | None]]
Clock = Callable[[], datetime]
Scheme = Literal["cavage", "rfc9421"]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_CAVAGE_ALGORITHM: dict[KeyType, str] = {"rsa": "rsa-sha256", "ed25519": "ed25519"}


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class VerifiedSignature:
    """Who signed a request, with which scheme and algorithm, covering which components."""

    key_id: str
    owner: str
    scheme: Scheme
    algorithm: str
    components: tuple[str, ...]


@dataclass(frozen=True)
class _Candidate:
    """A signature that passed every policy check and now needs its key."""

    scheme: Scheme
    key_id: str
    needs: KeyType | None
    components: tuple[str, ...]
    messages: tuple[bytes, ...]
    signature: bytes


class SignatureChecker:
    """Verifies draft-cavage and RFC 9421 request signatures with keys from an injected lookup."""

    def __init__(
        self,
        lookup: KeyLookup,
        *,
        max_age: timedelta = timedelta(hours=12),
        max_future: timedelta = timedelta(hours=1),
        clock: Clock = _utcnow,
        authority: str | None = None,
    ) -> None:
        self._lookup = lookup
        self._max_age = max_age
        self._max_future = max_future
        self._clock = clock
        self._authority = authority

    async def verify(
        self,
        method: str,
        path_with_query: str,
        authority: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        scheme: str = "https",
    ) -> VerifiedSignature:
        """The verified signature of a request, or ``SignatureCheckError`` saying what failed."""
        return await self.verify_fields(
            method, path_with_query, authority, normalize_headers(headers), body, scheme=scheme
        )

    async def verify_fields(
        self,
        method: str,
        path_with_query: str,
        authority: str,
        fields: Mapping[str, str],
        body: bytes,
        *,
        scheme: str = "https",
    ) -> VerifiedSignature:
        """As ``verify``, for headers already normalized (``normalize_headers``: lowercase names)."""
        fields = fields if isinstance(fields, dict) else dict(fields)
        needs_digest = bool(body) or method.upper() in _BODY_METHODS
        if "signature-input" in fields:
            target_uri = f"{scheme}://{authority}{path_with_query}"
            candidate = self._rfc9421(method, target_uri, fields, body, needs_digest)
        elif "signature" in fields or fields.get("authorization", "")[:10].lower() == "signature ":
            candidate = self._cavage(method, path_with_query, authority, fields, body, needs_digest)
        else:
            raise SignatureCheckError("missing_signature", "the request carries no Signature header")
        verified = await self._check_key(candidate)
        if self._authority is not None and not _same_authority(authority, self._authority, scheme):
            raise SignatureCheckError(
                "wrong_host", f"the request is addressed to {authority or 'no host'}, not to this server ({self._authority})"
            )
        return verified

    def _cavage(
        self, method: str, path: str, authority: str, fields: dict[str, str], body: bytes, needs_digest: bool
    ) -> _Candidate:
        parsed = parse_signature_header(fields.get("signature") or fields.get("authorization", ""))
        needs = required_key_type(parsed.algorithm)
        signed = set(parsed.headers)
        digest = "content-digest" if "content-digest" in signed and "digest" not in signed else "digest"
        required = ["(request-target)", "host", "date"] + ([digest] if needs_digest else [])
        _require_signed([name for name in required if name not in signed], "headers=")
        if "date" not in fields:
            raise SignatureCheckError("date_missing", "Date is signed but absent")
        self._check_time(_parse_date(fields["date"]), "Date")
        if "(created)" in signed and parsed.created is not None:
            self._check_time(_timestamp(parsed.created, "(created)"), "(created)")
        if "(expires)" in signed and parsed.expires is not None:
            self._check_expires(parsed.expires)
        for name in signed & {"digest", "content-digest"}:
            _check_body_digest(name, fields, body)
        paths = [path]
        if not needs_digest and "?" in path and "(request-target)" in signed:
            paths.append(path.partition("?")[0])
        messages = tuple(signing_string(parsed, method, p, authority, fields).encode("utf-8") for p in paths)
        return _Candidate("cavage", parsed.key_id, needs, parsed.headers, messages, parsed.signature)

    def _rfc9421(
        self, method: str, target_uri: str, fields: dict[str, str], body: bytes, needs_digest: bool
    ) -> _Candidate:
        if "signature" not in fields:
            raise SignatureCheckError("malformed_signature", "Signature-Input without a Signature header")
        labelled = parse_message_signatures(fields["signature-input"], fields["signature"])
        chosen = next((sig for sig in labelled if _supported(sig)), None)
        if chosen is None:
            offered = sorted({str(sig.param("alg")) for sig in labelled})
            raise SignatureCheckError(
                "unsupported_algorithm", f"no signature uses a supported alg: {offered}"
            )
        key_id, alg, names = chosen.param("keyid"), chosen.param("alg"), set(chosen.names)
        if not isinstance(key_id, str) or not key_id:
            raise SignatureCheckError("malformed_signature", f"signature {chosen.label!r} has no keyid")
        missing = [] if "@method" in names else ["@method"]
        if "@target-uri" not in names and not {"@authority", "@path"} <= names:
            missing.append("@target-uri (or @authority and @path)")
        _require_signed(
            missing + (["content-digest"] if needs_digest and "content-digest" not in names else [])
        )
        created = chosen.param("created")
        if created is None:
            raise SignatureCheckError("date_missing", f"signature {chosen.label!r} has no created parameter")
        if not isinstance(created, int) or isinstance(created, bool):
            raise SignatureCheckError("malformed_signature", "the created parameter is not an integer")
        self._check_time(_timestamp(created, "created"), "created")
        expires = chosen.param("expires")
        if isinstance(expires, int) and not isinstance(expires, bool):
            self._check_expires(expires)
        if "content-digest" in names:
            _check_body_digest("content-digest", fields, body)
        message = signature_base(chosen.components, chosen.params, method, target_uri, fields)
        needs = ALGORITHMS[alg] if isinstance(alg, str) else None
        return _Candidate("rfc9421", key_id, needs, chosen.names, (message,), chosen.signature)

    def _check_time(self, moment: datetime, what: str) -> None:
        now = self._clock()
        if moment < now - self._max_age:
            raise SignatureCheckError(
                "date_too_old", f"{what} {moment.isoformat()} is older than {self._max_age}"
            )
        if moment > now + self._max_future:
            raise SignatureCheckError(
                "date_in_future", f"{what} {moment.isoformat()} is more than {self._max_future} ahead"
            )

    def _check_expires(self, expires: int) -> None:
        if _timestamp(expires, "expires") < self._clock():
            raise SignatureCheckError("signature_expired", "the signature's expires time has passed")

    async def _check_key(self, candidate: _Candidate) -> VerifiedSignature:
        key = _usable(await self._lookup(candidate.key_id, False), candidate.key_id)
        if not _verifies(key, candidate):
            logger.info("signature by %s fails with the cached key; fetching the key again", candidate.key_id)
            key = _usable(await self._lookup(candidate.key_id, True), candidate.key_id)
            if not _verifies(key, candidate):
                raise SignatureCheckError(
                    "bad_signature", f"the signature does not verify with {candidate.key_id}"
                )
        names = _CAVAGE_ALGORITHM if candidate.scheme == "cavage" else ALGORITHM_OF_KEY_TYPE
        return VerifiedSignature(
            key.key_id, key.owner, candidate.scheme, names[key.type], candidate.components
        )


def _same_authority(given: str, expected: str, scheme: str) -> bool:
    """Whether a Host value names ``expected`` (case aside; the scheme's default port may be written)."""
    default_port = {"https": ":443", "http": ":80"}.get(scheme, "")
    given, expected = given.lower(), expected.lower()
    return given == expected or (bool(default_port) and ":" not in expected and given == expected + default_port)


def _usable(key: PublicKey | None, key_id: str) -> PublicKey:
    if key is None:
        raise SignatureCheckError("unknown_key", f"no public key found for {key_id}")
    if key.retired:
        raise SignatureCheckError("key_retired", f"key {key_id} is retired")
    try:
        load_public_key(key.pem)
    except PublicKeyError as error:
        raise SignatureCheckError("unusable_key", f"key {key_id}: {error}") from error
    return key


def _verifies(key: PublicKey, candidate: _Candidate) -> bool:
    if candidate.needs not in (None, key.type):
        return False
    return any(verify_raw(key.key, candidate.signature, message) for message in candidate.messages)


def _timestamp(value: int, what: str) -> datetime:
    try:
        return datetime.fromtimestamp(value, timezone.utc)
    except (OverflowError, OSError, ValueError) as error:
        raise SignatureCheckError("malformed_signature", f"{what} {value} is not a usable time") from error


def _supported(signature: MessageSignature) -> bool:
    alg = signature.param("alg")
    return alg is None or (isinstance(alg, str) and alg in ALGORITHMS)


def _require_signed(missing: list[str], where: str = "the signature") -> None:
    if missing:
        raise SignatureCheckError("unsigned_required_header", f"{where} must cover {', '.join(missing)}")


def _parse_date(value: str) -> datetime:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError) as error:
        raise SignatureCheckError("malformed_date", f"Date {value!r} is not an HTTP date") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _check_body_digest(name: str, fields: dict[str, str], body: bytes) -> None:
    if name not in fields:
        raise SignatureCheckError("digest_missing", f"{name} is signed but absent")
    (check_digest if name == "digest" else check_content_digest)(fields[name], body)
