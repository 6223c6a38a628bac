"""Property-based tests of signature and digest parsing and of ``SignatureChecker.verify``.

Every parser answers any header — arbitrary text, or the right grammar with random values,
duplicated parameters, missing quotes, huge values, unicode and control characters — with a
result or ``SignatureCheckError``, never another exception; signatures and digests that fedi
writes parse back to what was written and verify, and any change to a signed request fails.
"""

from __future__ import annotations

import base64
import operator
import string
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import example, given
from hypothesis import strategies as st

from keys.digests import check_content_digest, check_digest, make_content_digest, make_digest
from keys.errors import SignatureCheckError
from keys.message_signatures import (
    Token,
    parse_message_signatures,
    serialize_signature_params,
    signature_base,
)
from keys.public_keys import PublicKey
from keys.signatures import CavageSignature, normalize_headers, parse_signature_header, signing_string
from keys.signing import PrivateKey, sign_request, sign_request_rfc9421
from keys.verification import SignatureChecker, VerifiedSignature
from tests.fuzzing import nasty_text
from tests.keys.conftest import public_pem

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
ALICE = "https://mastodon.example/users/alice"

b64 = st.binary(max_size=300).map(lambda raw: base64.b64encode(raw).decode())


# ---------- draft-cavage Signature header ----------

PARAM_NAMES = ("keyId", "KEYID", "algorithm", "headers", "signature", "created", "expires", "extra", "key id", "")
param_value = st.one_of(
    st.sampled_from(["rsa-sha256", "hs2019", "hmac-sha256", "(request-target) host date digest", "", "123", "-1", "1e9"]),
    b64,
    nasty_text,
    st.integers().map(str),
)


@st.composite
def cavage_headers(draw: st.DrawFn) -> str:
    """A Signature header that follows the grammar loosely: random params, quoting, separators."""
    params = []
    for _ in range(draw(st.integers(0, 8))):
        name = draw(st.sampled_from(PARAM_NAMES) | st.text(max_size=10))
        value = draw(param_value)
        quote = draw(st.sampled_from(['"', "", "'", '"open', 'close"']))
        if quote == '"open':
            params.append(f'{name}="{value}')
        elif quote == 'close"':
            params.append(f'{name}={value}"')
        else:
            params.append(f"{name}{draw(st.sampled_from(['=', ' = ', '', '==']))}{quote}{value}{quote}")
    separator = draw(st.sampled_from([",", ", ", " ,", ";", " ", ",,"]))
    prefix = draw(st.sampled_from(["", "Signature ", "signature  ", "Bearer "]))
    return prefix + separator.join(params) + draw(st.sampled_from(["", ",", ", ", " "]))


def check_cavage_result(parsed: CavageSignature) -> None:
    """What a parsed header promises: a key id, signature bytes, lowercase listed headers."""
    assert parsed.key_id
    assert isinstance(parsed.signature, bytes) and parsed.signature
    assert parsed.headers and all(name == name.lower() and name.split() == [name] for name in parsed.headers)
    assert parsed.algorithm == parsed.algorithm.lower()


@given(st.one_of(nasty_text, cavage_headers()))
@example('keyId="a",signature="YQ==",keyId="b"')
@example('keyId="a",signature="YQ==",created=١٢')
@example('keyId="a\\",signature="YQ=="')
@example("keyId=a,signature=YQ==,headers=")
def test_fuzz_cavage_header_parses_or_is_refused(value: str) -> None:
    """A Signature header parses to its parameters or is refused as malformed, whatever it says."""
    try:
        parsed = parse_signature_header(value)
    except SignatureCheckError as error:
        assert error.reason == "malformed_signature"
        return
    check_cavage_result(parsed)


header_name = st.text(string.ascii_lowercase + string.digits + "-", min_size=1, max_size=20)
signed_names = st.lists(
    st.one_of(st.sampled_from(["(request-target)", "host", "date", "digest", "(created)", "(expires)"]), header_name),
    min_size=1, max_size=8,
)
key_ids = st.one_of(
    st.text(min_size=1).filter(lambda s: s.strip(" ,") == s and s.strip()),
    st.from_regex(r"https://[a-z]{1,12}\.example/users/[a-z0-9_]{1,12}#main-key", fullmatch=True),
)


@given(
    key_ids, st.sampled_from(["rsa-sha256", "hs2019"]), signed_names, st.binary(min_size=1, max_size=512),
    st.none() | st.integers(0, 2**40), st.none() | st.integers(0, 2**40), st.randoms(use_true_random=False),
)
def test_fuzz_cavage_header_round_trips(
    key_id: str, algorithm: str, names: list[str], raw: bytes, created: int | None, expires: int | None, order: Any
) -> None:
    """A header written as fedi writes it (any order, keyId quoted) parses back to the same values."""
    params = [
        f'keyId="{key_id.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"',
        f'algorithm="{algorithm}"',
        f'headers="{" ".join(names)}"',
        f'signature="{base64.b64encode(raw).decode()}"',
    ]
    params += [f"created={created}"] if created is not None else []
    params += [f"expires={expires}"] if expires is not None else []
    order.shuffle(params)
    parsed = parse_signature_header(",".join(params))
    assert parsed == CavageSignature(key_id, algorithm, tuple(names), raw, created, expires)


@given(st.lists(st.tuples(st.text(max_size=20), nasty_text), max_size=12))
@example([("Date", "a"), ("DATE", " b "), ("date", "c")])
def test_fuzz_normalize_headers_lowercases_and_joins_repeats(pairs: list[tuple[str, str]]) -> None:
    """Every field appears once, under its lowercase name, repeats joined in order and trimmed."""
    merged = normalize_headers(pairs)
    assert set(merged) == {name.lower() for name, _ in pairs}
    for key, value in merged.items():
        assert value == ", ".join(v.strip() for n, v in pairs if n.lower() == key)
    assert normalize_headers(dict(pairs)) == normalize_headers(list(dict(pairs).items()))


@given(
    st.builds(CavageSignature, st.text(), st.text(), st.lists(st.one_of(header_name, nasty_text), max_size=6).map(tuple),
              st.binary(), st.none() | st.integers(), st.none() | st.integers()),
    st.text(), st.text(), st.text(), st.dictionaries(header_name, st.text(), max_size=6),
)
def test_fuzz_signing_string_is_built_or_refused(
    parsed: CavageSignature, method: str, path: str, authority: str, headers: dict[str, str]
) -> None:
    """The signing string has one line per listed header, or names the one the request lacks."""
    try:
        text = signing_string(parsed, method, path, authority, headers)
    except SignatureCheckError as error:
        assert error.reason == "malformed_signature"
        return
    assert len(text.split("\n")) >= len(parsed.headers)


# ---------- RFC 9421 Signature-Input / Signature ----------

sf_key = st.builds(operator.add, st.sampled_from(string.ascii_lowercase + "*"),
                   st.text(string.ascii_lowercase + string.digits + "_.*-", max_size=10))
sf_token = st.builds(operator.add, st.sampled_from(string.ascii_letters + "*"),
                     st.text("!#$%&'*+.^_`|~:/-" + string.ascii_letters + string.digits, max_size=12)).map(Token)
sf_string = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
sf_bare = st.one_of(
    st.integers(-(10**15) + 1, 10**15 - 1), sf_string, st.binary(max_size=64), st.booleans(), sf_token
)
sf_params = st.dictionaries(sf_key, sf_bare, max_size=5)
components = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(["@method", "@target-uri", "@authority", "@path", "@query", "@scheme",
                                   "@request-target", "@status", "content-digest", "date"]), header_name),
        st.just({}) | sf_params,
    ),
    max_size=8,
).map(tuple)

SF_PIECES = (
    "sig1", "sig-b26", "=", "(", ")", '"@method"', '"@target-uri"', '"content-digest"', '"date"', ";created=",
    ";keyid=", ";alg=", '"rsa-v1_5-sha256"', '"ed25519"', ";expires=", "1618884473", "-5", "1.5", "?1", "?0",
    ":YQ==:", ":not base64:", ",", ", ", " ", "\t", '"', "\\", ";", "token/x", "*", "9999999999999999999",
)
sf_ish = st.lists(st.one_of(st.sampled_from(SF_PIECES), nasty_text.map(lambda s: s[:20])), max_size=30).map("".join)


@given(st.one_of(nasty_text, sf_ish), st.one_of(nasty_text, sf_ish))
@example('sig1=("@method");keyid="k";keyid="k2";created=1', "sig1=:YQ==:")
@example('sig1=("@method" "@path");created=1, sig1=("date")', "sig1=:YQ==:")
@example("sig1=(@method);created=1", "sig1=:YQ==:")
@example('sig1=("@method";created=1.5)', "sig1=:YQ==:")
@example('sig1=("@method")', "sig1=:%%%:")
def test_fuzz_message_signature_fields_parse_or_are_refused(signature_input: str, signature: str) -> None:
    """``Signature-Input`` and ``Signature`` parse to labelled signatures or are refused as malformed."""
    try:
        found = parse_message_signatures(signature_input, signature)
    except SignatureCheckError as error:
        assert error.reason == "malformed_signature"
        return
    for parsed in found:
        assert isinstance(parsed.signature, bytes)
        assert all(isinstance(name, str) and not isinstance(name, Token) for name in parsed.names)


@given(st.lists(st.tuples(sf_key, components, sf_params, st.binary(max_size=300)), min_size=1, max_size=4,
                unique_by=lambda member: member[0]))
def test_fuzz_message_signatures_round_trip(members: list[tuple[str, Any, dict[str, Any], bytes]]) -> None:
    """Fields written as fedi writes them parse back to the same labels, components, parameters and bytes."""
    signature_input = ", ".join(f"{label}={serialize_signature_params(comps, params)}" for label, comps, params, _ in members)
    signature = ",".join(f"{label}=:{base64.b64encode(raw).decode()}:" for label, _, _, raw in members)
    found = parse_message_signatures(signature_input, signature)
    assert [(s.label, s.components, s.params, s.signature) for s in found] == members
    for parsed, (_, _, params, _) in zip(found, members):
        assert [type(v) for v in parsed.params.values()] == [type(v) for v in params.values()]


@given(components, sf_params, st.text(), st.text(), st.dictionaries(header_name, st.text(), max_size=6))
@example(((("@method", {}),)), {}, "GET", "https://example.com:443/a?b", {})
@example(((("date", {}),)), {"keyid": "é"}, "POST", "https://x/", {"date": "é"})
def test_fuzz_signature_base_is_built_or_refused(
    comps: Any, params: dict[str, Any], method: str, target_uri: str, headers: dict[str, str]
) -> None:
    """The signature base is ASCII bytes ending in ``@signature-params``, or a clear refusal."""
    try:
        base = signature_base(comps, params, method, target_uri, headers)
    except SignatureCheckError as error:
        assert error.reason in ("malformed_signature", "unsupported_component")
        return
    assert base.decode("ascii").split("\n")[-1].startswith('"@signature-params": (')


# ---------- Digest and Content-Digest ----------

algorithms = st.sampled_from(["SHA-256", "sha-256", "SHA-512", "sha-512", "MD5", "unixsum", "sha", "", "SHA256"])
digest_ish = st.lists(
    st.tuples(algorithms, st.sampled_from(["=", "=:", ":", ""]), st.one_of(b64, nasty_text.map(lambda s: s[:50]))),
    max_size=5,
).map(lambda members: ",".join(f"{a}{sep}{value}" for a, sep, value in members))


@given(st.one_of(nasty_text, digest_ish), st.binary(max_size=200))
@example("SHA-256=", b"")
@example("sha-256=:YQ==:;param=1, md5=:x:", b"a")
def test_fuzz_digest_fields_match_or_are_refused(value: str, body: bytes) -> None:
    """Any Digest or Content-Digest value either matches the body or is refused with a digest reason."""
    for check in (check_digest, check_content_digest):
        try:
            check(value, body)
        except SignatureCheckError as error:
            assert error.reason in ("malformed_digest", "unsupported_digest", "digest_mismatch")


@given(st.binary(max_size=2000), st.binary(max_size=2000), st.sampled_from(["MD5=abc", "unixsum=12", "id-sha-256=x"]))
def test_fuzz_digests_round_trip_and_catch_other_bodies(body: bytes, other: bytes, unknown: str) -> None:
    """fedi's own digests match their body, also beside unknown algorithms, and never another body."""
    check_digest(make_digest(body), body)
    check_digest(f"{unknown}, {make_digest(body)}", body)
    check_content_digest(make_content_digest(body), body)
    if other != body:
        for check, value in ((check_digest, make_digest(body)), (check_content_digest, make_content_digest(body))):
            with pytest.raises(SignatureCheckError) as caught:
                check(value, other)
            assert caught.value.reason == "digest_mismatch"


# ---------- SignatureChecker.verify ----------


class Keys:
    """A key lookup over fixed keys (what the actor resolver answers in the server)."""

    def __init__(self, *keys: PublicKey) -> None:
        self.keys = {key.key_id: key for key in keys}

    async def __call__(self, key_id: str, refresh: bool) -> PublicKey | None:
        return self.keys.get(key_id)


@pytest.fixture(scope="module")
def signers(rsa_keys: list[rsa.RSAPrivateKey]) -> dict[str, PrivateKey]:
    """Alice's RSA key and Ed25519 key, by key id."""
    return {f"{ALICE}#main-key": rsa_keys[0], f"{ALICE}#ed25519-key": ed25519.Ed25519PrivateKey.generate()}


@pytest.fixture(scope="module")
def checker(signers: dict[str, PrivateKey]) -> SignatureChecker:
    """A checker that knows alice's keys, at a fixed time."""
    lookup = Keys(*(PublicKey(key_id, ALICE, public_pem(key)) for key_id, key in signers.items()))
    return SignatureChecker(lookup, clock=lambda: NOW)


path_segment = st.text(string.ascii_letters + string.digits + "-._~%!$&'()*+,;=:@", max_size=12)
paths = st.builds(
    lambda segments, query: "/" + "/".join(segments) + (f"?{query}" if query else ""),
    st.lists(path_segment, max_size=4), st.none() | st.text(string.ascii_letters + string.digits + "=&%-._~", max_size=20),
)
hosts = st.sampled_from(["city.example", "city.example:8443", "localhost:8000", "127.0.0.1:9"])
methods = st.sampled_from(["POST", "GET", "PUT", "DELETE", "post"])


@st.composite
def signed_requests(draw: st.DrawFn, signers: Mapping[str, PrivateKey]) -> tuple[str, str, str, dict[str, str], bytes]:
    """A request signed by alice as fedi signs, cavage or RFC 9421 (method, path, host, headers, body)."""
    method, path, host = draw(methods), draw(paths), draw(hosts)
    body = draw(st.none() | st.binary(max_size=500)) if method.upper() not in ("POST", "PUT") else draw(st.binary(max_size=500))
    key_id = draw(st.sampled_from(sorted(signers)))
    extra = draw(st.dictionaries(st.sampled_from(["Accept", "Content-Type", "User-Agent"]), st.text(string.printable, max_size=30)))
    rfc9421 = draw(st.booleans())
    sign = sign_request_rfc9421 if rfc9421 else sign_request
    now = NOW - draw(st.sampled_from([timedelta(0), timedelta(hours=11), timedelta(minutes=-50)]))
    headers = sign(method, f"https://{host}{path}", extra, body, key_id, signers[key_id], now=now)
    if rfc9421:  # the RFC 9421 signer names no Host field: the request line carries it
        headers = {"Host": host, **headers}
    return method, path, host, headers, body or b""


async def verify_or_refuse(
    checker: SignatureChecker, method: str, path: str, host: str, headers: Mapping[str, str], body: bytes
) -> VerifiedSignature | None:
    """The verified signature, or None after a ``SignatureCheckError`` (anything else propagates)."""
    try:
        return await checker.verify(method, path, host, headers, body)
    except SignatureCheckError as error:
        assert error.reason and str(error)
        return None


@pytest.fixture(scope="module")
def signed(signers: dict[str, PrivateKey]) -> st.SearchStrategy[tuple[str, str, str, dict[str, str], bytes]]:
    """The strategy of requests signed by alice."""
    return signed_requests(signers)


@given(data=st.data())
async def test_fuzz_signed_requests_verify(checker: SignatureChecker, signed: Any, data: st.DataObject) -> None:
    """Every request fedi signs, in either scheme, verifies as alice's."""
    method, path, host, headers, body = data.draw(signed)
    verified = await checker.verify(method, path, host, headers, body)
    assert verified.owner == ALICE
    assert verified.scheme == ("rfc9421" if "Signature-Input" in headers else "cavage")


# Fields the signatures do not cover (cavage signs the authority the request came to, not the Host field).
UNSIGNED = frozenset({"accept", "content-type", "user-agent", "host"})


@st.composite
def tampered(draw: st.DrawFn, signed: Any) -> tuple[str, str, str, dict[str, str], bytes]:
    """A signed request with one part changed: a header's value, a header dropped, the body, path or method."""
    method, path, host, headers, body = draw(signed)
    change = draw(st.sampled_from(["value", "drop", "body", "path", "method", "host"]))
    if change in ("value", "drop"):
        name = draw(st.sampled_from(sorted(n for n in headers if n.lower() not in UNSIGNED)))
        if change == "drop":
            headers = {n: v for n, v in headers.items() if n != name}
        else:
            new = draw(st.one_of(nasty_text, st.just(headers[name] + "x"), st.just(headers[name][:-1])).filter(lambda v: v.strip() != headers[name].strip()))
            headers = {**headers, name: new}
    elif change == "body":
        body = draw(st.binary(max_size=500).filter(lambda other: other != body))
    elif change == "path":
        # (a bodiless request may sign its path without the query, as older Mastodon does: not a change)
        path = draw(paths.filter(lambda other: other.partition("?")[0] != path.partition("?")[0]))
    elif change == "method":
        method = draw(methods.filter(lambda other: other.lower() != method.lower()))
    else:
        host = draw(hosts.filter(lambda other: other != host))
    return method, path, host, headers, body


@given(data=st.data())
async def test_fuzz_tampered_requests_fail(checker: SignatureChecker, signed: Any, data: st.DataObject) -> None:
    """Changing any signed part of a request makes verification fail with a ``SignatureCheckError``."""
    method, path, host, headers, body = data.draw(tampered(signed))
    with pytest.raises(SignatureCheckError):
        await checker.verify(method, path, host, headers, body)


junk_headers = st.dictionaries(
    st.sampled_from(["Signature", "signature", "Signature-Input", "Authorization", "Date", "Digest", "Content-Digest",
                     "Host", "X-Other"]) | st.text(max_size=15),
    st.one_of(nasty_text, cavage_headers(), sf_ish, digest_ish, st.sampled_from(["Tue, 24 Nov 2026 12:00:00 GMT", "yesterday"])),
    max_size=8,
)


@given(junk_headers, st.binary(max_size=100), methods)
@example({"Signature": ""}, b"", "POST")
@example({"signature": " ", "Authorization": "Bearer abc"}, b"", "GET")
@example({"Signature-Input": "", "Signature": ""}, b"", "GET")
async def test_fuzz_verify_refuses_junk_headers(
    checker: SignatureChecker, headers: dict[str, str], body: bytes, method: str
) -> None:
    """Headers that are not a valid signature of the request are refused with ``SignatureCheckError``."""
    assert await verify_or_refuse(checker, method, "/inbox", "city.example", headers, body) is None


@given(data=st.data())
async def test_fuzz_verify_refuses_arbitrary_headers(checker: SignatureChecker, signed: Any, data: st.DataObject) -> None:
    """Arbitrary headers, or a signed request's headers mixed with junk, verify or fail cleanly."""
    method, path, host, headers, body = data.draw(signed)
    mixed = data.draw(st.one_of(junk_headers, junk_headers.map(lambda junk: {**headers, **junk})))
    method = data.draw(st.one_of(st.just(method), st.text(max_size=8)))
    path = data.draw(st.one_of(st.just(path), st.text(max_size=40)))
    verified = await verify_or_refuse(checker, method, path, data.draw(st.one_of(st.just(host), st.text(max_size=20))), mixed, body)
    if verified is not None:
        assert verified.owner == ALICE
