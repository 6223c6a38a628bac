"""draft-cavage: parsing, signing strings, ``sign_request``, httpsig interop and the checker's policy."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from httpsig.sign import HeaderSigner
from httpsig.verify import HeaderVerifier

from keys.digests import make_digest
from keys.errors import SignatureCheckError
from keys.signatures import normalize_headers, parse_signature_header, required_key_type, signing_string
from keys.signing import sign_request
from keys.verification import SignatureChecker
from tests.keys.conftest import (
    Actor,
    KeyDirectory,
    Request,
    expect_failure,
    http_date,
    pkcs1_signature,
    private_pem,
    public_pem,
    with_header,
)

PATH = "/users/demo/inbox"
INBOX = "https://city.example" + PATH
BODY = b'{"@context":"https://www.w3.org/ns/activitystreams","type":"Follow"}'
POST_NAMES = ("(request-target)", "host", "date", "digest")
SIGNATURE = base64.b64encode(b"\x01" * 256).decode()


def test_parse_mastodon_signature_header() -> None:
    parsed = parse_signature_header(
        f'keyId="https://mastodon.example/users/alice#main-key",algorithm="rsa-sha256",'
        f'headers="(request-target) host date digest content-type",signature="{SIGNATURE}"'
    )
    assert parsed.key_id == "https://mastodon.example/users/alice#main-key"
    assert parsed.algorithm == "rsa-sha256"
    assert parsed.headers == ("(request-target)", "host", "date", "digest", "content-type")
    assert parsed.signature == b"\x01" * 256


def test_parameters_in_any_order_and_case_with_spaces() -> None:
    parsed = parse_signature_header(
        f'signature="{SIGNATURE}", Headers="(request-target) Host Date" , ALGORITHM="HS2019", keyid="k#1"'
    )
    assert (parsed.key_id, parsed.algorithm, parsed.headers) == (
        "k#1",
        "hs2019",
        ("(request-target)", "host", "date"),
    )


def test_defaults_escapes_and_authorization_form() -> None:
    parsed = parse_signature_header(f'Signature keyId="a\\"b,c",signature="{SIGNATURE}",created=1700000000')
    assert parsed.key_id == 'a"b,c'
    assert parsed.algorithm == "hs2019"
    assert parsed.headers == ("date",)
    assert parsed.created == 1700000000


@pytest.mark.parametrize(
    "value",
    [
        f'algorithm="rsa-sha256",signature="{SIGNATURE}"',
        'keyId="k",algorithm="rsa-sha256"',
        'keyId="k",signature="not base64!"',
        f'keyId="k",keyId="j",signature="{SIGNATURE}"',
        f'keyId="k",signature="{SIGNATURE}",created="soon"',
        f'keyId="k",signature="{SIGNATURE}",headers=""',
        f'keyId="k" signature="{SIGNATURE}"',
    ],
)
def test_malformed_signature_headers(value: str) -> None:
    with pytest.raises(SignatureCheckError) as caught:
        parse_signature_header(value)
    assert caught.value.reason == "malformed_signature"


def test_only_rsa_sha256_and_hs2019_are_accepted() -> None:
    assert required_key_type("rsa-sha256") == "rsa"
    assert required_key_type("hs2019") is None
    for algorithm in ("hmac-sha256", "rsa-sha512", "rsa-sha1", "ed25519", "none"):
        with pytest.raises(SignatureCheckError) as caught:
            required_key_type(algorithm)
        assert caught.value.reason == "unsupported_algorithm"


def test_signing_string_lines() -> None:
    parsed = parse_signature_header(
        f'keyId="k",headers="(request-target) host date digest",signature="{SIGNATURE}"'
    )
    headers = normalize_headers({"Date": "Tue, 07 Jun 2022 20:51:35 GMT", "DIGEST": " SHA-256=abc= "})
    text = signing_string(parsed, "POST", "/users/demo/inbox?x=1", "city.example", headers)
    assert text == (
        "(request-target): post /users/demo/inbox?x=1\nhost: city.example\n"
        "date: Tue, 07 Jun 2022 20:51:35 GMT\ndigest: SHA-256=abc="
    )


def test_repeated_header_fields_are_joined_in_order() -> None:
    assert normalize_headers([("Accept", "a"), ("accept", "b "), ("Host", "x")]) == {
        "accept": "a, b",
        "host": "x",
    }


def test_sign_request_headers_for_a_post(alice: Actor) -> None:
    moment = datetime(2024, 3, 5, 9, 7, 1, tzinfo=timezone.utc)
    headers = sign_request(
        "POST",
        INBOX,
        {"content-type": "application/activity+json", "host": "x"},
        BODY,
        alice.key_id,
        alice.private_key,
        now=moment,
    )
    assert set(headers) == {"content-type", "Host", "Date", "Digest", "Signature"}
    assert headers["Host"] == "city.example"
    assert headers["Date"] == "Tue, 05 Mar 2024 09:07:01 GMT"
    assert headers["Digest"] == make_digest(BODY)
    match = re.fullmatch(
        r'keyId="([^"]+)",algorithm="rsa-sha256",'
        r'headers="\(request-target\) host date digest",signature="([^"]+)"',
        headers["Signature"],
    )
    assert match is not None and match[1] == alice.key_id
    expected = (
        f"(request-target): post /users/demo/inbox\nhost: city.example\n"
        f"date: {headers['Date']}\ndigest: {headers['Digest']}"
    )
    public_key = alice.private_key.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(base64.b64decode(match[2]), expected.encode(), padding.PKCS1v15(), hashes.SHA256())


def test_sign_request_for_a_get_has_no_digest(alice: Actor) -> None:
    url = "https://City.example:443/users/demo?page=2"
    headers = sign_request("GET", url, None, None, alice.key_id, alice.private_key)
    assert "Digest" not in headers
    assert headers["Host"] == "city.example"
    assert 'headers="(request-target) host date"' in headers["Signature"]
    assert re.fullmatch(r"[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT", headers["Date"])


def test_sign_request_keeps_a_non_default_port(alice: Actor) -> None:
    headers = sign_request("GET", "http://localhost:8080/actor", {}, None, alice.key_id, alice.private_key)
    assert headers["Host"] == "localhost:8080"


def test_our_signature_verifies_with_httpsig(alice: Actor) -> None:
    headers = sign_request("POST", INBOX + "?a=b", {}, BODY, alice.key_id, alice.private_key)
    verifier = HeaderVerifier(
        headers,
        alice.public_key.pem,
        required_headers=["(request-target)", "host", "date", "digest"],
        method="POST",
        path="/users/demo/inbox?a=b",
        sign_header="signature",
    )
    assert verifier.verify() is True


async def test_httpsig_signature_verifies_with_ours(alice: Actor, checker: SignatureChecker) -> None:
    headers = {
        "Host": "city.example",
        "Date": datetime.now(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT"),
        "Digest": make_digest(BODY),
        "Content-Type": "application/activity+json",
    }
    signer = HeaderSigner(
        alice.key_id,
        private_pem(alice.private_key),
        algorithm="rsa-sha256",
        headers=["(request-target)", "host", "date", "digest"],
        sign_header="signature",
    )
    signed = signer.sign(headers, method="POST", path="/users/demo/inbox")
    result = await checker.verify("POST", "/users/demo/inbox", "city.example", dict(signed.items()), BODY)
    assert (result.key_id, result.owner, result.scheme) == (alice.key_id, alice.owner, "cavage")


async def test_mastodon_shaped_delivery_verifies(alice: Actor, checker: SignatureChecker) -> None:
    """The header set Mastodon's Request class sends when delivering to an inbox."""
    body = (
        b'{"@context":["https://www.w3.org/ns/activitystreams"],"id":"https://mastodon.example/users/alice'
        b'#follows/1","type":"Follow","actor":"https://mastodon.example/users/alice",'
        b'"object":"https://city.example/users/demo"}'
    )
    date = datetime.now(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
    digest = "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode()
    signed_string = (
        f"(request-target): post /users/demo/inbox\nhost: city.example\ndate: {date}\n"
        f"digest: {digest}\ncontent-type: application/activity+json"
    )
    signature = pkcs1_signature(alice.private_key, signed_string)
    headers = {
        "Host": "city.example",
        "Date": date,
        "Digest": digest,
        "Content-Type": "application/activity+json",
        "User-Agent": "http.rb/5.2.0 (Mastodon/4.3.0; +https://mastodon.example/)",
        "Accept-Encoding": "gzip",
        "Signature": (
            'keyId="https://mastodon.example/users/alice#main-key",algorithm="rsa-sha256",'
            f'headers="(request-target) host date digest content-type",signature="{signature}"'
        ),
    }
    result = await checker.verify("POST", "/users/demo/inbox", "city.example", headers, body)
    assert result.key_id == "https://mastodon.example/users/alice#main-key"
    assert result.owner == "https://mastodon.example/users/alice"
    assert result.algorithm == "rsa-sha256"
    assert result.components == ("(request-target)", "host", "date", "digest", "content-type")


POST_NAMES = ("(request-target)", "host", "date", "digest")
PATH = "/users/demo/inbox"


def handmade_post(
    actor: Actor,
    names: tuple[str, ...] = POST_NAMES,
    *,
    algorithm: str = "rsa-sha256",
    digest: str | None = None,
    date: datetime | None = None,
) -> Request:
    """A cavage-signed POST built without our signer: the signing string is spelled out here."""
    values = {
        "(request-target)": f"post {PATH}",
        "host": "city.example",
        "date": http_date(date or datetime.now(timezone.utc)),
        "digest": digest or make_digest(BODY),
    }
    signature = pkcs1_signature(actor.private_key, "\n".join(f"{name}: {values[name]}" for name in names))
    headers = {"Host": values["host"], "Date": values["date"], "Digest": values["digest"]}
    headers["Signature"] = (
        f'keyId="{actor.key_id}",algorithm="{algorithm}",headers="{" ".join(names)}",signature="{signature}"'
    )
    return Request("POST", PATH, "city.example", headers, BODY)


async def test_hs2019_is_accepted_for_rsa_keys(alice: Actor, checker: SignatureChecker) -> None:
    result = await handmade_post(alice, algorithm="hs2019").check(checker)
    assert result.algorithm == "rsa-sha256"


async def test_hmac_is_refused_even_when_keyed_with_the_public_pem(
    alice: Actor, checker: SignatureChecker, directory: KeyDirectory
) -> None:
    headers = {
        "Host": "city.example",
        "Date": http_date(datetime.now(timezone.utc)),
        "Digest": make_digest(BODY),
    }
    signer = HeaderSigner(
        alice.key_id,
        public_pem(alice.private_key),
        algorithm="hmac-sha256",
        headers=list(POST_NAMES),
        sign_header="signature",
    )
    signed = dict(signer.sign(headers, method="POST", path=PATH).items())
    forged = Request("POST", PATH, "city.example", signed, BODY)
    error = await expect_failure(checker, forged, "unsupported_algorithm")
    assert "hmac-sha256" in str(error)
    assert directory.calls == []
    relabelled = with_header(forged, "signature", signed["signature"].replace("hmac-sha256", "rsa-sha256"))
    await expect_failure(checker, relabelled, "bad_signature")
    relabelled = with_header(forged, "signature", signed["signature"].replace("hmac-sha256", "hs2019"))
    await expect_failure(checker, relabelled, "bad_signature")
    assert directory.calls == [(alice.key_id, False), (alice.key_id, True)] * 2


async def test_declared_rsa_with_an_ed25519_key_fails(carol: Actor, checker: SignatureChecker) -> None:
    headers = sign_request("POST", INBOX, {}, BODY, carol.key_id, carol.private_key)
    request = Request("POST", PATH, "city.example", headers, BODY)
    mislabelled = with_header(
        request, "Signature", request.headers["Signature"].replace("hs2019", "rsa-sha256")
    )
    await expect_failure(checker, mislabelled, "bad_signature")


# -- required headers ----------------------------------------------------------------------------


@pytest.mark.parametrize("left_out", POST_NAMES)
async def test_post_must_sign_all_four(
    left_out: str, alice: Actor, checker: SignatureChecker, directory: KeyDirectory
) -> None:
    request = handmade_post(alice, tuple(name for name in POST_NAMES if name != left_out))
    error = await expect_failure(checker, request, "unsigned_required_header")
    assert left_out in error.detail
    assert directory.calls == []


async def test_get_must_sign_date(alice: Actor, checker: SignatureChecker) -> None:
    headers = {"Date": http_date(datetime.now(timezone.utc))}
    text = "(request-target): get /users/demo\nhost: city.example"
    headers["Signature"] = (
        f'keyId="{alice.key_id}",algorithm="rsa-sha256",headers="(request-target) host",'
        f'signature="{pkcs1_signature(alice.private_key, text)}"'
    )
    error = await expect_failure(
        checker, Request("GET", "/users/demo", "city.example", headers, b""), "unsigned_required_header"
    )
    assert "date" in error.detail


async def test_signed_digest_header_must_be_present(alice: Actor, checker: SignatureChecker) -> None:
    request = handmade_post(alice)
    headers = {name: value for name, value in request.headers.items() if name != "Digest"}
    await expect_failure(checker, dataclasses.replace(request, headers=headers), "digest_missing")


async def test_signed_date_header_must_be_present_and_parse(alice: Actor, checker: SignatureChecker) -> None:
    request = handmade_post(alice)
    headers = {name: value for name, value in request.headers.items() if name != "Date"}
    await expect_failure(checker, dataclasses.replace(request, headers=headers), "date_missing")
    await expect_failure(checker, with_header(request, "Date", "yesterday"), "malformed_date")


# -- digests and header spelling -----------------------------------------------------------------


async def test_digest_mismatch_is_refused(alice: Actor, checker: SignatureChecker) -> None:
    await expect_failure(checker, handmade_post(alice, digest=make_digest(b"{}")), "digest_mismatch")


async def test_digest_with_several_algorithms(alice: Actor, checker: SignatureChecker) -> None:
    sha256 = base64.b64encode(hashlib.sha256(BODY).digest()).decode()
    sha512 = base64.b64encode(hashlib.sha512(BODY).digest()).decode()
    await handmade_post(alice, digest=f"SHA-256={sha256},SHA-512={sha512}").check(checker)
    wrong = base64.b64encode(hashlib.sha512(b"{}").digest()).decode()
    await expect_failure(
        checker, handmade_post(alice, digest=f"SHA-256={sha256},SHA-512={wrong}"), "digest_mismatch"
    )


async def test_header_names_are_case_insensitive(alice: Actor, checker: SignatureChecker) -> None:
    request = handmade_post(alice)
    shouted = {
        name.upper() if index % 2 else name.lower(): value
        for index, (name, value) in enumerate(request.headers.items())
    }
    assert set(shouted) != set(request.headers)
    await dataclasses.replace(request, headers=shouted).check(checker)


async def test_signature_parameters_in_another_order(alice: Actor, checker: SignatureChecker) -> None:
    request = handmade_post(alice)
    params = dict(re.findall(r'(\w+)="([^"]*)"', request.headers["Signature"]))
    reordered = ",".join(
        f'{name}="{params[name]}"' for name in ("signature", "headers", "keyId", "algorithm")
    )
    await with_header(request, "Signature", reordered).check(checker)


async def test_authorization_header_form(alice: Actor, checker: SignatureChecker) -> None:
    request = handmade_post(alice)
    headers = {name: value for name, value in request.headers.items() if name != "Signature"}
    headers["Authorization"] = "Signature " + request.headers["Signature"]
    await dataclasses.replace(request, headers=headers).check(checker)
