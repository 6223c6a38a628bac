"""Digest (RFC 3230) and Content-Digest (RFC 9530): making and checking them."""

from __future__ import annotations

import base64
import hashlib

import pytest

from keys.digests import check_content_digest, check_digest, make_content_digest, make_digest
from keys.errors import SignatureCheckError

BODY = b'{"type":"Follow"}'


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_make_digest_of_empty_body_is_the_well_known_value() -> None:
    assert make_digest(b"") == "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


def test_make_content_digest_uses_a_byte_sequence() -> None:
    assert make_content_digest(b"") == "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"


def test_digest_round_trip() -> None:
    check_digest(make_digest(BODY), BODY)
    check_content_digest(make_content_digest(BODY), BODY)


def test_digest_mismatch() -> None:
    with pytest.raises(SignatureCheckError) as caught:
        check_digest(make_digest(BODY), BODY + b" ")
    assert caught.value.reason == "digest_mismatch"


def test_digest_algorithm_names_are_case_insensitive() -> None:
    check_digest("sha-256=" + b64(hashlib.sha256(BODY).digest()), BODY)


def test_digest_with_several_algorithms_checks_each_known_one() -> None:
    sha256, sha512 = b64(hashlib.sha256(BODY).digest()), b64(hashlib.sha512(BODY).digest())
    check_digest(f"SHA-256={sha256},SHA-512={sha512}", BODY)
    check_digest(f"SHA-512={sha512}, SHA-256={sha256}", BODY)
    forged = b64(hashlib.sha512(b"other").digest())
    with pytest.raises(SignatureCheckError) as caught:
        check_digest(f"SHA-256={sha256},SHA-512={forged}", BODY)
    assert caught.value.reason == "digest_mismatch"


def test_unknown_digest_algorithms_are_ignored_but_not_enough() -> None:
    sha256 = b64(hashlib.sha256(BODY).digest())
    check_digest(f"MD5=1B2M2Y8AsgTpgAmY7PhCfg==,SHA-256={sha256}", BODY)
    with pytest.raises(SignatureCheckError) as caught:
        check_digest("MD5=1B2M2Y8AsgTpgAmY7PhCfg==", BODY)
    assert caught.value.reason == "unsupported_digest"


@pytest.mark.parametrize("value", ["SHA-256", "SHA-256=not base64!", "=abc"])
def test_malformed_digest(value: str) -> None:
    with pytest.raises(SignatureCheckError) as caught:
        check_digest(value, BODY)
    assert caught.value.reason == "malformed_digest"


def test_content_digest_with_sha512_and_parameters() -> None:
    sha512 = b64(hashlib.sha512(BODY).digest())
    check_content_digest(f"sha-512=:{sha512}:", BODY)
    check_content_digest(f"sha-512=:{sha512}:;note=1, md5=:1B2M2Y8AsgTpgAmY7PhCfg==:", BODY)


def test_content_digest_mismatch_and_malformed() -> None:
    with pytest.raises(SignatureCheckError) as caught:
        check_content_digest(make_content_digest(b"other"), BODY)
    assert caught.value.reason == "digest_mismatch"
    with pytest.raises(SignatureCheckError) as caught:
        check_content_digest(make_digest(BODY), BODY)
    assert caught.value.reason == "malformed_digest"
