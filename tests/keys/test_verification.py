"""SignatureChecker: sign -> verify -> tamper -> fail for both schemes, dates and key rotation."""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from keys.digests import make_content_digest, make_digest
from keys.public_keys import PublicKey
from keys.signing import sign_request, sign_request_rfc9421
from keys.verification import SignatureChecker
from tests.keys.conftest import (
    Actor,
    KeyDirectory,
    Request,
    expect_failure,
    http_date,
    public_pem,
    with_header,
)

PATH = "/users/demo/inbox"
INBOX = "https://city.example" + PATH
BODY = b'{"type":"Create","object":{"type":"Note","content":"hello"}}'


def cavage_post(actor: Actor, *, now: datetime | None = None) -> Request:
    headers = sign_request(
        "POST",
        INBOX,
        {"Content-Type": "application/activity+json"},
        BODY,
        actor.key_id,
        actor.private_key,
        now=now,
    )
    return Request("POST", PATH, "city.example", headers, BODY)


def rfc9421_post(actor: Actor) -> Request:
    headers = sign_request_rfc9421(
        "POST", INBOX, {"Content-Type": "application/activity+json"}, BODY, actor.key_id, actor.private_key
    )
    return Request("POST", PATH, "city.example", headers, BODY)


def flip_signature(request: Request) -> Request:
    value = request.headers["Signature"]
    match = re.search(r'signature="([^"]+)"|=:([^:]+):', value)
    assert match is not None
    encoded = match[1] or match[2]
    raw = bytearray(base64.b64decode(encoded))
    raw[len(raw) // 2] ^= 0x01
    return with_header(request, "Signature", value.replace(encoded, base64.b64encode(bytes(raw)).decode()))


# -- sign, verify --------------------------------------------------------------------------------


@pytest.mark.parametrize("actor_name", ["alice", "carol"])
@pytest.mark.parametrize("make", [cavage_post, rfc9421_post])
async def test_sign_then_verify(
    make: Callable[[Actor], Request],
    actor_name: str,
    request: pytest.FixtureRequest,
    checker: SignatureChecker,
) -> None:
    actor: Actor = request.getfixturevalue(actor_name)
    result = await make(actor).check(checker)
    assert (result.key_id, result.owner) == (actor.key_id, actor.owner)
    assert result.scheme == ("cavage" if make is cavage_post else "rfc9421")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.owner = "someone else"  # type: ignore[misc]


@pytest.mark.parametrize("sign", [sign_request, sign_request_rfc9421])
async def test_signed_get_verifies(
    sign: Callable[..., dict[str, str]], alice: Actor, checker: SignatureChecker
) -> None:
    headers = sign(
        "GET",
        "https://city.example/users/demo?page=true",
        {"Accept": "application/activity+json"},
        None,
        alice.key_id,
        alice.private_key,
    )
    result = await checker.verify("GET", "/users/demo?page=true", "city.example", headers, b"")
    assert result.owner == alice.owner


async def test_get_signed_without_its_query_string_like_older_mastodon(
    alice: Actor, checker: SignatureChecker
) -> None:
    headers = sign_request(
        "GET", "https://city.example/users/demo/outbox", {}, None, alice.key_id, alice.private_key
    )
    result = await checker.verify("GET", "/users/demo/outbox?page=true", "city.example", headers, b"")
    assert result.owner == alice.owner
    post = cavage_post(alice)
    await expect_failure(checker, dataclasses.replace(post, path=PATH + "?page=true"), "bad_signature")


# -- tampering -----------------------------------------------------------------------------------

OTHER_BODY = BODY.replace(b"hello", b"HELLO")
CAVAGE_TAMPERING: dict[str, tuple[Callable[[Request], Request], str]] = {
    "body": (lambda r: dataclasses.replace(r, body=OTHER_BODY), "digest_mismatch"),
    "body and digest": (
        lambda r: with_header(dataclasses.replace(r, body=OTHER_BODY), "Digest", make_digest(OTHER_BODY)),
        "bad_signature",
    ),
    "path": (lambda r: dataclasses.replace(r, path="/users/other/inbox"), "bad_signature"),
    "query": (lambda r: dataclasses.replace(r, path=PATH + "?x=1"), "bad_signature"),
    "method": (lambda r: dataclasses.replace(r, method="PUT"), "bad_signature"),
    "host": (lambda r: dataclasses.replace(r, authority="other.example"), "bad_signature"),
    "date": (
        lambda r: with_header(r, "Date", http_date(datetime.now(timezone.utc) - timedelta(seconds=5))),
        "bad_signature",
    ),
    "digest header": (lambda r: with_header(r, "Digest", make_digest(OTHER_BODY)), "digest_mismatch"),
    "signature bytes": (flip_signature, "bad_signature"),
    "keyId of another known key": (
        lambda r: with_header(
            r,
            "Signature",
            r.headers["Signature"].replace("mastodon.example/users/alice", "evil.example/users/mallory"),
        ),
        "bad_signature",
    ),
    "keyId unknown": (
        lambda r: with_header(r, "Signature", r.headers["Signature"].replace("alice", "nobody")),
        "unknown_key",
    ),
}


@pytest.mark.parametrize("case", CAVAGE_TAMPERING)
async def test_cavage_tampering_fails(case: str, alice: Actor, checker: SignatureChecker) -> None:
    tamper, reason = CAVAGE_TAMPERING[case]
    request = cavage_post(alice, now=datetime.now(timezone.utc) - timedelta(minutes=1))
    await request.check(checker)
    await expect_failure(checker, tamper(request), reason)


RFC9421_TAMPERING: dict[str, tuple[Callable[[Request], Request], str]] = {
    "body": (lambda r: dataclasses.replace(r, body=OTHER_BODY), "digest_mismatch"),
    "path": (lambda r: dataclasses.replace(r, path="/users/other/inbox"), "bad_signature"),
    "method": (lambda r: dataclasses.replace(r, method="PUT"), "bad_signature"),
    "host": (lambda r: dataclasses.replace(r, authority="other.example"), "bad_signature"),
    "content-digest": (
        lambda r: with_header(r, "Content-Digest", make_content_digest(OTHER_BODY)),
        "digest_mismatch",
    ),
    "created": (
        lambda r: with_header(
            r,
            "Signature-Input",
            re.sub(r"created=(\d+)", lambda m: f"created={int(m[1]) - 1}", r.headers["Signature-Input"]),
        ),
        "bad_signature",
    ),
    "signature bytes": (flip_signature, "bad_signature"),
    "keyid of another known key": (
        lambda r: with_header(
            r,
            "Signature-Input",
            r.headers["Signature-Input"].replace(
                "mastodon.example/users/alice", "evil.example/users/mallory"
            ),
        ),
        "bad_signature",
    ),
}


@pytest.mark.parametrize("case", RFC9421_TAMPERING)
async def test_rfc9421_tampering_fails(case: str, alice: Actor, checker: SignatureChecker) -> None:
    tamper, reason = RFC9421_TAMPERING[case]
    request = rfc9421_post(alice)
    await request.check(checker)
    await expect_failure(checker, tamper(request), reason)


async def test_missing_signature(checker: SignatureChecker) -> None:
    await expect_failure(
        checker, Request("POST", PATH, "city.example", {"Date": "x"}, BODY), "missing_signature"
    )


# -- dates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "reason"),
    [
        (timedelta(hours=-13), "date_too_old"),
        (timedelta(hours=2), "date_in_future"),
        (timedelta(hours=-11), None),
        (timedelta(minutes=50), None),
    ],
)
async def test_date_window(
    offset: timedelta, reason: str | None, alice: Actor, checker: SignatureChecker
) -> None:
    request = cavage_post(alice, now=datetime.now(timezone.utc) + offset)
    if reason is None:
        await request.check(checker)
    else:
        await expect_failure(checker, request, reason)


async def test_window_follows_the_injected_clock(alice: Actor, directory: KeyDirectory) -> None:
    moment = datetime(2021, 4, 20, 2, 7, 55, tzinfo=timezone.utc)
    request = cavage_post(alice, now=moment)
    await request.check(SignatureChecker(directory, clock=lambda: moment + timedelta(hours=3)))
    short = SignatureChecker(directory, max_age=timedelta(hours=2), clock=lambda: moment + timedelta(hours=3))
    await expect_failure(short, request, "date_too_old")


# -- keys: rotation, retirement, unknown ---------------------------------------------------------


async def test_rotated_key_is_fetched_again_once(
    alice: Actor, mallory: Actor, directory: KeyDirectory
) -> None:
    directory.cached[alice.key_id] = PublicKey(alice.key_id, alice.owner, public_pem(mallory.private_key))
    checker = SignatureChecker(directory)
    result = await cavage_post(alice).check(checker)
    assert result.owner == alice.owner
    assert directory.calls == [(alice.key_id, False), (alice.key_id, True)]
    await rfc9421_post(alice).check(checker)
    assert directory.calls[2:] == [(alice.key_id, False)]


async def test_a_wrong_signature_refetches_only_once(
    alice: Actor, mallory: Actor, checker: SignatureChecker, directory: KeyDirectory
) -> None:
    impostor = dataclasses.replace(mallory, key_id=alice.key_id)
    await expect_failure(checker, cavage_post(impostor), "bad_signature")
    assert directory.calls == [(alice.key_id, False), (alice.key_id, True)]


async def test_retired_key_is_refused(
    alice: Actor, directory: KeyDirectory, checker: SignatureChecker
) -> None:
    directory.add(dataclasses.replace(alice.public_key, retired=True))
    await expect_failure(checker, cavage_post(alice), "key_retired")
    assert directory.calls == [(alice.key_id, False)]


async def test_unknown_and_unusable_keys(
    alice: Actor, directory: KeyDirectory, checker: SignatureChecker
) -> None:
    directory.cached.clear()
    directory.fresh.clear()
    await expect_failure(checker, cavage_post(alice), "unknown_key")
    directory.add(
        PublicKey(alice.key_id, alice.owner, "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
    )
    await expect_failure(checker, cavage_post(alice), "unusable_key")
