"""RFC 9421 message signatures: field parsing, the signature base, signing, interop, the checker's policy."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import requests
from http_message_signatures import HTTPMessageSigner, HTTPMessageVerifier, MappingKeyResolver, algorithms

from keys.errors import SignatureCheckError
from keys.message_signatures import (
    Token,
    parse_message_signatures,
    serialize_signature_params,
    signature_base,
)
from keys.public_keys import PublicKey, load_public_key, verify_raw
from keys.signatures import normalize_headers
from keys.signing import sign_request_rfc9421
from keys.verification import SignatureChecker
from tests.keys.conftest import (
    RFC_HEADERS,
    Actor,
    KeyDirectory,
    Request,
    expect_failure,
    public_pem,
    rfc_public_key_pem,
    text_headers,
    with_header,
)

PATH = "/users/demo/inbox"
INBOX = "https://city.example" + PATH
BODY = b'{"type":"Like","actor":"https://other.example/carol"}'
# RFC 9421 appendix B.2.6: the signature base of RFC_HEADERS.
RFC_BASE = (
    '"date": Tue, 20 Apr 2021 02:07:55 GMT\n"@method": POST\n"@path": /foo\n"@authority": example.com\n'
    '"content-type": application/json\n"content-length": 18\n"@signature-params": ("date" "@method" "@path" '
    '"@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"'
)


def test_rfc9421_ed25519_test_vector() -> None:
    fields = normalize_headers(RFC_HEADERS)
    [signature] = parse_message_signatures(fields["signature-input"], fields["signature"])
    assert signature.label == "sig-b26"
    assert signature.param("keyid") == "test-key-ed25519"
    base = signature_base(
        signature.components, signature.params, "POST", "https://example.com/foo?param=Value&Pet=dog", fields
    )
    assert base.decode() == RFC_BASE
    assert verify_raw(load_public_key(rfc_public_key_pem()), signature.signature, base)
    assert not verify_raw(load_public_key(rfc_public_key_pem()), signature.signature, base + b" ")


def test_parse_several_labels_keeps_order_and_types() -> None:
    signatures = parse_message_signatures(
        'b=("@method");created=5;keyid="k2";alg="ed25519";tag=app, '
        'a=("@target-uri" "content-digest");keyid="k1"',
        "a=:AQID:, b=:BAU=:",
    )
    assert [s.label for s in signatures] == ["b", "a"]
    assert signatures[0].params == {"created": 5, "keyid": "k2", "alg": "ed25519", "tag": "app"}
    assert isinstance(signatures[0].params["tag"], Token)
    assert signatures[1].names == ("@target-uri", "content-digest")
    assert (signatures[0].signature, signatures[1].signature) == (b"\x04\x05", b"\x01\x02\x03")


def test_serialization_round_trips() -> None:
    value = '("@method" "content-digest";sf);created=1618884473;keyid="a \\"b\\"";flag;tag=t;n=?0'
    [parsed] = parse_message_signatures("s=" + value, "s=:AA==:")
    assert serialize_signature_params(parsed.components, parsed.params) == value


@pytest.mark.parametrize(
    ("signature_input", "signature"),
    [
        ('s=("@method";created=1', "s=:AA==:"),
        ('s=("@method");created=1.5', "s=:AA==:"),
        ('s=("@method"), s=("@path")', "s=:AA==:"),
        ('s=("@method"),', "s=:AA==:"),
        ('s=("@method")', "t=:AA==:"),
        ('s=("@method")', 's="AA=="'),
        ('s=("@method")', "s=:not base64:"),
        ("s=(method)", "s=:AA==:"),
        ('S=("@method")', "S=:AA==:"),
    ],
)
def test_malformed_fields(signature_input: str, signature: str) -> None:
    with pytest.raises(SignatureCheckError) as caught:
        parse_message_signatures(signature_input, signature)
    assert caught.value.reason == "malformed_signature"


def test_derived_components() -> None:
    names = ("@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path", "@query")
    base = signature_base(tuple((n, {}) for n in names), {}, "get", "https://City.Example:443", {})
    assert base.decode().splitlines()[:-1] == [
        '"@method": GET',
        '"@target-uri": https://City.Example:443',
        '"@authority": city.example',
        '"@scheme": https',
        '"@request-target": /',
        '"@path": /',
        '"@query": ?',
    ]
    base = signature_base(
        (("@authority", {}), ("@query", {})), {}, "GET", "http://h.example:8080/p?q=1&r", {}
    )
    assert base.decode().splitlines()[:2] == ['"@authority": h.example:8080', '"@query": ?q=1&r']


@pytest.mark.parametrize(
    "component", [("@query-param", {"name": "q"}), ("content-digest", {"sf": True}), ("@x", {})]
)
def test_unsupported_components(component: tuple[str, dict[str, object]]) -> None:
    with pytest.raises(SignatureCheckError) as caught:
        signature_base((component,), {}, "GET", INBOX, {"content-digest": "sha-256=:AA==:"})  # type: ignore[arg-type]
    assert caught.value.reason == "unsupported_component"


def test_covered_header_must_be_present() -> None:
    with pytest.raises(SignatureCheckError) as caught:
        signature_base((("content-digest", {}),), {}, "POST", INBOX, {})
    assert caught.value.reason == "malformed_signature"


def test_sign_request_rfc9421_headers(alice: Actor) -> None:
    moment = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    headers = sign_request_rfc9421(
        "POST", INBOX, {"Accept": "*/*"}, BODY, alice.key_id, alice.private_key, now=moment
    )
    assert set(headers) == {"Accept", "Content-Digest", "Signature-Input", "Signature"}
    assert headers["Signature-Input"] == (
        f'sig1=("@method" "@target-uri" "content-digest");created={int(moment.timestamp())}'
        f';keyid="{alice.key_id}";alg="rsa-v1_5-sha256"'
    )
    assert headers["Signature"].startswith("sig1=:") and headers["Signature"].endswith(":")
    get = sign_request_rfc9421("GET", INBOX, None, None, alice.key_id, alice.private_key)
    assert "Content-Digest" not in get and '("@method" "@target-uri")' in get["Signature-Input"]


def prepared(method: str, url: str, headers: dict[str, str], body: bytes | None) -> requests.PreparedRequest:
    return requests.Request(method, url, headers=headers, data=body).prepare()


@pytest.mark.parametrize("actor_name", ["alice", "carol"])
def test_our_signature_verifies_with_http_message_signatures(
    actor_name: str, request: pytest.FixtureRequest
) -> None:
    actor: Actor = request.getfixturevalue(actor_name)
    algorithm = algorithms.RSA_V1_5_SHA256 if actor_name == "alice" else algorithms.ED25519
    headers = sign_request_rfc9421(
        "POST", INBOX, {"Content-Type": "application/activity+json"}, BODY, actor.key_id, actor.private_key
    )
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithm,
        key_resolver=MappingKeyResolver(
            public_keys={actor.key_id: actor.private_key.public_key()}, private_keys={}
        ),
    )
    [result] = verifier.verify(
        prepared("POST", INBOX, headers, BODY), body=BODY, require_components=("@method", "@target-uri")
    )
    assert result.parameters["keyid"] == actor.key_id
    assert result.body == BODY


@pytest.mark.parametrize("actor_name", ["alice", "carol"])
async def test_http_message_signatures_signature_verifies_with_ours(
    actor_name: str, request: pytest.FixtureRequest, checker: SignatureChecker
) -> None:
    actor: Actor = request.getfixturevalue(actor_name)
    algorithm = algorithms.RSA_V1_5_SHA256 if actor_name == "alice" else algorithms.ED25519
    signer = HTTPMessageSigner(
        signature_algorithm=algorithm,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={actor.key_id: actor.private_key}),
    )
    message = prepared("POST", INBOX + "?x=1", {"Content-Type": "application/activity+json"}, BODY)
    signer.sign(
        message,
        key_id=actor.key_id,
        label="sig1",
        covered_component_ids=("@method", "@target-uri"),
        body=BODY,
    )
    result = await checker.verify(
        "POST", "/users/demo/inbox?x=1", "city.example", text_headers(message), BODY
    )
    assert (result.key_id, result.scheme) == (actor.key_id, "rfc9421")
    assert result.components == ("@method", "@target-uri", "content-digest")
    assert result.algorithm == ("rsa-v1_5-sha256" if actor_name == "alice" else "ed25519")

    get = prepared("GET", "https://city.example/users/demo", {}, None)
    signer.sign(
        get, key_id=actor.key_id, covered_component_ids=("@method", "@authority", "@path"), include_alg=False
    )
    result = await checker.verify("GET", "/users/demo", "city.example", text_headers(get), b"")
    assert result.components == ("@method", "@authority", "@path")


# -- RFC 9421 policy -----------------------------------------------------------------------------


def their_signed_post(
    actor: Actor, components: tuple[str, ...], *, body: bytes | None = BODY, **options: Any
) -> Request:
    """A POST signed by http-message-signatures (an independent RFC 9421 implementation)."""
    algorithm = algorithms.ED25519 if actor.key_id.endswith("ed25519-key") else algorithms.RSA_V1_5_SHA256
    signer = HTTPMessageSigner(
        signature_algorithm=algorithm,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={actor.key_id: actor.private_key}),
    )
    message = requests.Request("POST", INBOX, data=BODY).prepare()
    signer.sign(message, key_id=actor.key_id, covered_component_ids=components, body=body, **options)
    return Request("POST", PATH, "city.example", text_headers(message), BODY)


@pytest.mark.parametrize(
    ("components", "body", "missing"),
    [
        (("@target-uri",), BODY, "@method"),
        (("@method", "@path"), BODY, "@target-uri"),
        (("@method", "@target-uri"), None, "content-digest"),
    ],
)
async def test_rfc9421_required_components(
    components: tuple[str, ...], body: bytes | None, missing: str, alice: Actor, checker: SignatureChecker
) -> None:
    error = await expect_failure(
        checker, their_signed_post(alice, components, body=body), "unsigned_required_header"
    )
    assert missing in error.detail


@pytest.mark.parametrize(
    ("created", "reason"),
    [
        (timedelta(hours=-13), "date_too_old"),
        (timedelta(hours=2), "date_in_future"),
        (timedelta(hours=-11), None),
    ],
)
async def test_rfc9421_created_window(
    created: timedelta, reason: str | None, carol: Actor, checker: SignatureChecker
) -> None:
    request = their_signed_post(
        carol, ("@method", "@target-uri"), created=datetime.now(timezone.utc) + created
    )
    if reason is None:
        await request.check(checker)
    else:
        await expect_failure(checker, request, reason)


async def test_rfc9421_expired_and_missing_created(alice: Actor, checker: SignatureChecker) -> None:
    now = datetime.now(timezone.utc)
    expired = their_signed_post(
        alice,
        ("@method", "@target-uri"),
        created=now - timedelta(minutes=10),
        expires=now - timedelta(minutes=1),
    )
    await expect_failure(checker, expired, "signature_expired")
    request = their_signed_post(alice, ("@method", "@target-uri"))
    without = re.sub(r";created=\d+", "", request.headers["Signature-Input"])
    await expect_failure(checker, with_header(request, "Signature-Input", without), "date_missing")


async def test_rfc9421_alg_resolved_from_the_key(
    alice: Actor, carol: Actor, checker: SignatureChecker
) -> None:
    for actor, algorithm in ((alice, "rsa-v1_5-sha256"), (carol, "ed25519")):
        request = their_signed_post(actor, ("@method", "@target-uri"), include_alg=False)
        assert "alg=" not in request.headers["Signature-Input"]
        assert (await request.check(checker)).algorithm == algorithm


async def test_rfc9421_hmac_refused_and_first_supported_label_used(
    alice: Actor, checker: SignatureChecker
) -> None:
    hmac_signer = HTTPMessageSigner(
        signature_algorithm=algorithms.HMAC_SHA256,
        key_resolver=MappingKeyResolver(
            public_keys={}, private_keys={alice.key_id: public_pem(alice.private_key).encode()}
        ),
    )
    message = requests.Request("POST", INBOX, data=BODY).prepare()
    hmac_signer.sign(message, key_id=alice.key_id, label="forged", body=BODY)
    await expect_failure(
        checker, Request("POST", PATH, "city.example", text_headers(message), BODY), "unsupported_algorithm"
    )
    rsa_signer = HTTPMessageSigner(
        signature_algorithm=algorithms.RSA_V1_5_SHA256,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={alice.key_id: alice.private_key}),
    )
    rsa_signer.sign(
        message,
        key_id=alice.key_id,
        label="real",
        covered_component_ids=("@method", "@target-uri", "content-digest"),
        append_if_signature_exists=True,
        use_existing_digest=True,
    )
    result = await Request("POST", PATH, "city.example", text_headers(message), BODY).check(checker)
    assert result.algorithm == "rsa-v1_5-sha256"


async def test_rfc9421_test_vector_is_refused_for_lack_of_a_signed_digest(directory: KeyDirectory) -> None:
    directory.add(PublicKey("test-key-ed25519", "https://example.com/actor", rfc_public_key_pem()))
    checker = SignatureChecker(directory, clock=lambda: datetime(2021, 4, 20, 2, 8, tzinfo=timezone.utc))
    request = Request("POST", "/foo?param=Value&Pet=dog", "example.com", RFC_HEADERS, b'{"hello": "world"}')
    error = await expect_failure(checker, request, "unsigned_required_header")
    assert "content-digest" in error.detail
