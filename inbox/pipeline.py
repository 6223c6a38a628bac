"""The inbox request pipeline: check a POSTed activity step by step, store it, answer 202.

size -> content type -> parse -> rate limit -> blocks -> signature -> origin -> store. Each step
either returns what the next one needs or raises ``Rejected`` with the status and the
``{"error": ...}`` text; nothing is written before the last step, so a rejected request leaves no
row behind. Storing is
``INSERT … ON CONFLICT (activity_id) DO NOTHING``: a repeated delivery is answered 202 and kept once.
The work itself happens later, in ``inbox.processing`` (store first, process after, as
microblog.pub does). One exception to "verify first": a ``Delete`` of an actor by itself, signed
with a key we have never seen, is answered 202 with nothing fetched or stored — the account is gone,
its key cannot be fetched any more, and we hold nothing of it to delete.
The rate limit (``inbox.rate_limits``) answers 429 to a host sending too much; an activity whose
actor, key or id is blocked by the instance (``actors.blocks``) is refused with 403 before any key
is fetched. Checking the signature may fetch at most ``FETCH_BUDGET`` documents.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
from starlette.requests import Request
from starlette.responses import Response

from actors.blocks import blocked_among
from actors.remote import ActorResolver, fetch_budget, without_fragment
from actors.remote_documents import ACTOR_TYPES, host_of, object_id
from fedi.errors import FediError
from fedi.metrics import count_inbox, count_signature_failure
from fedi.responses import error_response
from fedi.worker import notify_work
from inbox import queries
from inbox.rate_limits import inbox_rate_limiter
from keys.errors import SignatureCheckError
from keys.message_signatures import parse_message_signatures
from keys.signatures import normalize_headers, parse_signature_header
from keys.verification import SignatureChecker
from outbox.deliveries import mark_host_available
from outbox.fanout import host_of as delivery_host

log = logging.getLogger(__name__)

ACTIVITY_MEDIA_TYPES = frozenset({"application/activity+json", "application/ld+json", "application/json"})
# Activities whose object must come from the actor's own host (and be attributed to the actor).
AUTHORED = frozenset({"Create", "Update", "Delete"})


@dataclass(frozen=True)
class InboxLimits:
    """What the inbox accepts: body size, JSON nesting, and the signature's Date window (Mastodon's)."""

    max_body: int = 1024 * 1024
    max_depth: int = 24
    max_age: timedelta = timedelta(hours=12)
    max_future: timedelta = timedelta(hours=1)


class Rejected(FediError):
    """A step refused the request: ``status`` and the ``error`` text of the JSON answer."""

    def __init__(self, status: int, error: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.headers = headers


@dataclass(frozen=True)
class Accepted:
    """The request was answered 202; ``stored`` is False for a repeat or an ignored Delete."""

    activity_id: str
    stored: bool


@dataclass(frozen=True)
class HTTPSigInfo:
    """The signature step's result: who signed (``signed_by``) or why it failed (``reason``, ``detail``)."""

    has_valid_signature: bool
    key_id: str | None = None
    signed_by: str | None = None
    reason: str = ""
    detail: str = ""


Outcome = Accepted | Rejected


def outcome_response(outcome: Outcome) -> Response:
    """The HTTP answer for an outcome: 202 with an empty body, or the status with ``{"error": ...}``."""
    if isinstance(outcome, Accepted):
        return Response(status_code=202)
    return error_response(outcome.status, outcome.error, outcome.headers)


async def read_body(request: Request, max_body: int) -> bytes:
    """The body, refused (413) when Content-Length or the bytes actually sent exceed ``max_body``."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_body:
        raise Rejected(413, f"size: the body is {declared} bytes; at most {max_body} are accepted")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_body:
            raise Rejected(413, f"size: the body exceeds {max_body} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def check_content_type(value: str | None) -> None:
    """The body must be declared as ActivityPub JSON (415 otherwise)."""
    media_type = (value or "").split(";", 1)[0].strip().lower()
    if media_type not in ACTIVITY_MEDIA_TYPES:
        raise Rejected(415, f"content type: {media_type or 'none'} is not application/activity+json or application/ld+json")


def parse_activity(body: bytes, max_depth: int) -> dict[str, Any]:
    """The activity: a JSON object, nested at most ``max_depth`` deep, with string ``id``, ``type`` and ``actor``."""
    try:
        activity = json.loads(body)
    except RecursionError:
        raise Rejected(400, f"parse: the JSON is nested deeper than {max_depth} levels") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise Rejected(400, f"parse: the body is not valid JSON: {error}") from None
    if not isinstance(activity, dict):
        raise Rejected(400, "parse: the body is not a JSON object")
    if nesting_depth(activity, max_depth) > max_depth:
        raise Rejected(400, f"parse: the JSON is nested deeper than {max_depth} levels")
    for field in ("id", "type"):
        if not isinstance(activity.get(field), str) or not activity[field]:
            raise Rejected(400, f"parse: the activity has no string {field!r}")
    if not isinstance(object_id(activity.get("actor")), str):
        raise Rejected(400, "parse: the activity has no 'actor' id")
    return activity


def nesting_depth(value: Any, limit: int) -> int:
    """How deeply objects and arrays nest in ``value`` (counting stops just past ``limit``)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


async def check_signature(request: Request, body: bytes, checker: SignatureChecker) -> HTTPSigInfo:
    """Verify the request's signature (never raises: a failure is described in the result)."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    target = raw_path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
    try:
        verified = await checker.verify(
            request.method, target, request.headers.get("host", ""), request.headers, body, scheme=request.url.scheme
        )
    except SignatureCheckError as error:
        count_signature_failure(error.reason)
        return HTTPSigInfo(False, claimed_key_id(request.headers), reason=error.reason, detail=error.detail)
    return HTTPSigInfo(True, verified.key_id, verified.owner)


def require_signature(info: HTTPSigInfo) -> str:
    """The signer's actor id, or 401 saying why the signature was refused."""
    if not info.has_valid_signature or info.signed_by is None:
        raise Rejected(401, f"signature: {info.reason}: {info.detail}")
    return info.signed_by


def check_origin(activity: dict[str, Any], signer: str) -> None:
    """The signer must be the actor, and what the actor creates, changes or undoes must be its own."""
    actor = object_id(activity["actor"])
    if actor != signer:
        raise Rejected(401, f"origin: the activity's actor {actor} is not the key owner {signer}")
    host = host_of(signer)
    if host_of(activity["id"]) != host:
        raise Rejected(403, f"origin: the activity id {activity['id']} is not on the actor's host {host}")
    kind, obj = activity["type"], activity.get("object")
    if kind in AUTHORED or kind == "Undo":
        _check_own_object(kind, obj, signer, host)


def _check_own_object(kind: str, obj: Any, actor: str, host: str) -> None:
    target = object_id(obj)
    if target is None:
        raise Rejected(400, f"parse: the {kind} has no object id")
    if host_of(target) != host:
        raise Rejected(403, f"origin: the {kind}'s object {target} is not on the actor's host {host}")
    if not isinstance(obj, dict) or obj.get("type") in ACTOR_TYPES:
        return  # an actor's own document (Update, Delete of itself) is attributed to nobody
    if kind == "Undo":  # the undone activity must name its actor, and it must be this one
        claims = {"actor": obj.get("actor")}
    else:  # a post names its author, when it does, as attributedTo (some servers add actor)
        claims = {field: obj[field] for field in ("attributedTo", "actor") if obj.get(field) is not None}
    for field, value in claims.items():
        owners = _ids(value)
        if actor not in owners:
            raise Rejected(403, f"origin: the {kind}'s object has {field} {', '.join(owners) or 'none'}, not {actor}")


def _ids(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [i for i in (object_id(item) for item in items) if i is not None]


def claimed_key_id(headers: Mapping[str, str]) -> str | None:
    """The key id a request's signature names, without checking anything."""
    fields = normalize_headers(headers)
    try:
        if "signature-input" in fields and "signature" in fields:
            for signature in parse_message_signatures(fields["signature-input"], fields["signature"]):
                key_id = signature.param("keyid")
                if isinstance(key_id, str):
                    return key_id
            return None
        value = fields.get("signature") or fields.get("authorization", "")
        return parse_signature_header(value).key_id if value else None
    except SignatureCheckError:
        return None


def check_rate(request: Request, activity: dict[str, Any]) -> None:
    """429 with ``Retry-After`` when the signing host (the keyId's, else the actor's) sent too much lately."""
    limiter = inbox_rate_limiter(request)
    host = host_of(claimed_key_id(request.headers) or "") or host_of(object_id(activity["actor"]) or "")
    wait = limiter.take(host) if limiter is not None else None
    if wait is not None:
        raise Rejected(429, f"rate limit: too many activities from {host}; retry in {wait} s", {"Retry-After": str(wait)})


async def check_blocks(pool: asyncpg.Pool, activity: dict[str, Any], headers: Mapping[str, str]) -> None:
    """403 when the activity's actor, its key or its id is blocked by the instance (checked before any fetch)."""
    key_id = claimed_key_id(headers)
    named = [object_id(activity["actor"]), without_fragment(key_id) if key_id else None, activity["id"]]
    async with pool.acquire() as conn:
        blocked = await blocked_among(conn, named)
    if blocked is not None:
        raise Rejected(403, f"blocked: {blocked} is blocked by this instance")


async def is_unknown_self_delete(activity: dict[str, Any], headers: Mapping[str, str], resolver: ActorResolver) -> bool:
    """True for a ``Delete`` of the actor itself signed with a key we do not know."""
    if activity["type"] != "Delete" or object_id(activity.get("object")) != object_id(activity["actor"]):
        return False
    key_id = claimed_key_id(headers)
    return key_id is not None and await resolver.known_key(key_id) is None


async def store_activity(pool: asyncpg.Pool, activity: dict[str, Any], recipient_id: int | None) -> bool:
    """Queue the activity (once per id), tell the delivery side its host is up, wake the workers."""
    actor = object_id(activity["actor"])
    assert actor is not None
    async with pool.acquire() as conn, conn.transaction():
        stored = await queries.store_item(conn, activity["id"], activity["type"], actor, recipient_id, activity)
        host = delivery_host(actor)
        if host is not None:
            await mark_host_available(conn, host)
        if stored:
            await notify_work(conn)
    return stored


async def receive(request: Request, recipient_id: int | None, limits: InboxLimits) -> Outcome:
    """Run every step for one POSTed activity and return the outcome."""
    resolver: ActorResolver = request.state.resolver
    activity: dict[str, Any] = {}  # until parsed (its type labels the metrics)
    try:
        body = await read_body(request, limits.max_body)
        check_content_type(request.headers.get("content-type"))
        activity = parse_activity(body, limits.max_depth)
        check_rate(request, activity)
        await check_blocks(request.state.pool, activity, request.headers)
        if await is_unknown_self_delete(activity, request.headers, resolver):
            log.info("inbox: Delete of %s, whose key we never had: nothing to do", activity["actor"])
            return Accepted(activity["id"], stored=False)
        checker = SignatureChecker(resolver.lookup_key, max_age=limits.max_age, max_future=limits.max_future)
        with fetch_budget():
            signature = await check_signature(request, body, checker)
        check_origin(activity, require_signature(signature))
        stored = await store_activity(request.state.pool, activity, recipient_id)
    except Rejected as rejection:
        log.info("inbox: refused %s %s: %s", rejection.status, request.url.path, rejection.error)
        count_inbox(activity.get("type"), "rejected", rejection.status)
        return rejection
    count_inbox(activity["type"], "accepted" if stored else "duplicate")
    return Accepted(activity["id"], stored)
