"""The inbox request pipeline: check a POSTed activity step by step, store it, answer 202.

client allowance -> size -> content type -> parse -> blocks -> signature (addressed to this server)
-> origin -> signer's rate limit -> store. Each step either returns what the next one needs or raises
``Rejected`` with the status and the ``{"error": ...}`` text; nothing is written before the last
step, so a rejected request leaves no row behind. Storing goes through the process's
``inbox.batching.InboxWriter`` (``INSERT … ON CONFLICT (activity_id) DO NOTHING`` for many requests
in one transaction): a repeated delivery is answered 202 and kept once, and the 202 comes only after
the commit.
The work itself happens later, in ``inbox.processing`` (store first, process after, as
microblog.pub does). One exception to "verify first": a ``Delete`` of an actor by itself, signed
with a key we have never seen, is answered 202 with nothing fetched or stored — the account is gone,
its key cannot be fetched any more, and we hold nothing of it to delete.
The rate limits (``inbox.rate_limits``) answer 429 to a signing host sending too much and to a
client address whose requests keep being refused; an activity whose actor, key or id is blocked by
the instance (``actors.blocks``, from the resolver's snapshot) is refused with 403 before any key
is fetched. The signature must be made for this server's domain (the ``Host`` after the trusted
proxy's rewrite): one made for another server is refused with 401, so it cannot be replayed here.
Checking the signature may fetch at most ``FETCH_BUDGET`` documents.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from actors.remote import ActorResolver, fetch_budget, without_fragment
from actors.remote_documents import ACTOR_TYPES, has_type, host_of, object_id
from fedi.errors import FediError
from fedi.metrics import count_inbox, count_signature_failure
from fedi.responses import error_response
from inbox.batching import StoreFailed, inbox_writer, new_item
from inbox.rate_limits import inbox_rate_limiter
from keys.errors import SignatureCheckError
from keys.message_signatures import parse_message_signatures
from keys.signatures import normalize_headers, parse_signature_header
from keys.verification import SignatureChecker
from outbox.fanout import host_of as delivery_host

log = logging.getLogger(__name__)

ACTIVITY_MEDIA_TYPES = frozenset({"application/activity+json", "application/ld+json", "application/json"})
# Activities whose object must come from the actor's own host (and be attributed to the actor).
AUTHORED = frozenset({"Create", "Update", "Delete"})
# Refusals that charge the client address's allowance: junk, forgeries and blocked senders.
CHARGED_TO_CLIENT = frozenset({400, 401, 403, 413, 415})


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
    # nesting can be no deeper than the number of brackets: only a body with many needs the walk
    if body.count(b"{") + body.count(b"[") > max_depth and nesting_depth(activity, max_depth) > max_depth:
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


async def check_signature(
    request: Request, body: bytes, checker: SignatureChecker, fields: Mapping[str, str] | None = None
) -> HTTPSigInfo:
    """Verify the request's signature (never raises: a failure is described in the result).

    ``fields`` are the request's headers as ``normalize_headers`` gives them, when already at hand.
    """
    fields = normalize_headers(request.headers) if fields is None else fields
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    target = raw_path.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")
    try:
        verified = await checker.verify_fields(
            request.method, target, fields.get("host", ""), fields, body, scheme=request.scope.get("scheme", "https")
        )
    except SignatureCheckError as error:
        count_signature_failure(error.reason)
        return HTTPSigInfo(False, claimed_key_id(fields), reason=error.reason, detail=error.detail)
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
    if not isinstance(obj, dict) or has_type(obj, ACTOR_TYPES):
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
    fields = headers if isinstance(headers, dict) else normalize_headers(headers)
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


def check_client_allowance(request: Request) -> None:
    """429 with ``Retry-After`` when the client address's requests were refused too often lately."""
    limiters = inbox_rate_limiter(request)
    address = request.client.host if request.client else ""
    wait = limiters.clients.wait(address) if limiters is not None else None
    if wait is not None:
        raise Rejected(
            429, f"rate limit: too many refused requests from {address}; retry in {wait} s", {"Retry-After": str(wait)}
        )


def charge_client(request: Request, rejection: Rejected) -> None:
    """Take a token from the client address's bucket for a refused request."""
    limiters = inbox_rate_limiter(request)
    if limiters is not None and rejection.status in CHARGED_TO_CLIENT:
        limiters.clients.take(request.client.host if request.client else "")


def check_rate(request: Request, signer: str) -> None:
    """429 with ``Retry-After`` when the signer's host (whose signature verified) sent too much lately."""
    limiters = inbox_rate_limiter(request)
    host = host_of(signer)
    wait = limiters.hosts.take(host) if limiters is not None else None
    if wait is not None:
        raise Rejected(429, f"rate limit: too many activities from {host}; retry in {wait} s", {"Retry-After": str(wait)})


async def check_blocks(resolver: ActorResolver, activity: dict[str, Any], fields: Mapping[str, str]) -> None:
    """403 when the activity's actor, its key or its id is blocked by the instance (checked before any fetch)."""
    key_id = claimed_key_id(fields)
    named = [object_id(activity["actor"]), without_fragment(key_id) if key_id else None, activity["id"]]
    blocked = await resolver.blocks.first_blocked(named)
    if blocked is not None:
        raise Rejected(403, f"blocked: {blocked} is blocked by this instance")


async def is_unknown_self_delete(activity: dict[str, Any], headers: Mapping[str, str], resolver: ActorResolver) -> bool:
    """True for a ``Delete`` of the actor itself signed with a key we do not know."""
    if activity["type"] != "Delete" or object_id(activity.get("object")) != object_id(activity["actor"]):
        return False
    key_id = claimed_key_id(headers)
    return key_id is not None and await resolver.known_key(key_id) is None


async def store_activity(request: Request, activity: dict[str, Any], body: bytes, recipient_id: int | None) -> bool:
    """Queue the activity (once per id), tell the delivery side its host is up, wake the workers.

    True if it was new. Many requests share one transaction (``inbox.batching``); 503 when the
    database cannot take it.
    """
    actor = object_id(activity["actor"])
    assert actor is not None
    try:
        return await inbox_writer(request).store(new_item(activity, body, actor, recipient_id), delivery_host(actor))
    except StoreFailed as error:
        if error.unavailable:
            raise Rejected(503, f"store: the activity cannot be stored now; retry later ({error})", {"Retry-After": "10"}) from None
        raise Rejected(400, f"store: {error}") from None


async def receive(request: Request, recipient_id: int | None, limits: InboxLimits) -> Outcome:
    """Run every step for one POSTed activity and return the outcome."""
    resolver: ActorResolver = request.state.resolver
    activity: dict[str, Any] = {}  # until parsed (its type labels the metrics)
    try:
        check_client_allowance(request)
        body = await read_body(request, limits.max_body)
        fields = normalize_headers(request.headers)
        check_content_type(fields.get("content-type"))
        activity = parse_activity(body, limits.max_depth)
        await check_blocks(resolver, activity, fields)
        if await is_unknown_self_delete(activity, fields, resolver):
            log.info("inbox: Delete of %s, whose key we never had: nothing to do", activity["actor"])
            return Accepted(activity["id"], stored=False)
        checker = SignatureChecker(
            resolver.lookup_key, max_age=limits.max_age, max_future=limits.max_future,
            authority=request.state.settings.domain,
        )
        with fetch_budget():
            signature = await check_signature(request, body, checker, fields)
        signer = require_signature(signature)
        check_origin(activity, signer)
        check_rate(request, signer)
        stored = await store_activity(request, activity, body, recipient_id)
    except Rejected as rejection:
        log.info("inbox: refused %s %s: %s", rejection.status, request.url.path, rejection.error)
        count_inbox(activity.get("type"), "rejected", rejection.status)
        charge_client(request, rejection)
        return rejection
    count_inbox(activity["type"], "accepted" if stored else "duplicate")
    return Accepted(activity["id"], stored)
