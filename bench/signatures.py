"""Signature throughput: raw RSA-2048 against fedi's signer and checker, and against httpsig.

Run with ``.venv/bin/python bench/signatures.py``; it takes a few seconds. Each row runs its operation
for about ``--seconds`` and reports operations per second and the ratio to the raw cryptography rate
(signing rows against raw sign/s, verifying rows against raw verify/s). httpsig's verify row builds a
``HeaderVerifier`` per request, as a server must, which includes parsing the PEM.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from httpsig.sign import HeaderSigner
from httpsig.verify import HeaderVerifier

from keys.public_keys import PublicKey
from keys.signing import sign_request, sign_request_rfc9421
from keys.verification import SignatureChecker

KEY_ID = "https://bench.example/users/alice#main-key"
URL = "https://city.example/users/demo/inbox"
PATH = "/users/demo/inbox"
BODY = b'{"@context":"https://www.w3.org/ns/activitystreams","type":"Create","object":' + b'"x"' * 300 + b"}"
HEADERS = ("(request-target)", "host", "date", "digest")


def rate(operation: Callable[[], object], seconds: float) -> float:
    """Operations per second of ``operation`` run repeatedly for about ``seconds``."""
    operation()
    count, start = 0, time.perf_counter()
    while (now := time.perf_counter()) < start + seconds:
        for _ in range(10):
            operation()
        count += 10
    return count / (now - start)


async def async_rate(operation: Callable[[], Awaitable[object]], seconds: float) -> float:
    """Operations per second of an async ``operation`` awaited repeatedly for about ``seconds``."""
    await operation()
    count, start = 0, time.perf_counter()
    while (now := time.perf_counter()) < start + seconds:
        for _ in range(10):
            await operation()
        count += 10
    return count / (now - start)


async def measure(seconds: float) -> list[tuple[str, float, str]]:
    """Rows of (name, operations per second, the raw rate it compares with)."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    private_pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_key = PublicKey(KEY_ID, "https://bench.example/users/alice", public_pem)

    async def lookup(key_id: str, refresh: bool) -> PublicKey | None:
        return public_key if key_id == KEY_ID else None

    checker = SignatureChecker(lookup)
    data = b"(request-target): post /users/demo/inbox\nhost: city.example\ndate: x\ndigest: y"
    raw_signature = private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    cavage = sign_request("POST", URL, {}, BODY, KEY_ID, private_key)
    rfc9421 = sign_request_rfc9421("POST", URL, {}, BODY, KEY_ID, private_key)

    date = datetime.now(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")
    plain = {"Host": "city.example", "Date": date, "Digest": cavage["Digest"]}
    signer = HeaderSigner(
        KEY_ID, private_pem, algorithm="rsa-sha256", headers=list(HEADERS), sign_header="signature"
    )
    by_httpsig = dict(signer.sign(plain, method="POST", path=PATH).items())

    def raw_sign() -> None:
        private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    def raw_verify() -> None:
        private_key.public_key().verify(raw_signature, data, padding.PKCS1v15(), hashes.SHA256())

    def httpsig_verify() -> None:
        verifier = HeaderVerifier(
            by_httpsig,
            public_pem,
            required_headers=list(HEADERS),
            method="POST",
            path=PATH,
            sign_header="signature",
        )
        assert verifier.verify()

    synchronous: list[tuple[str, Callable[[], object], str]] = [
        ("cryptography RSA-2048 sign", raw_sign, "sign"),
        ("cryptography RSA-2048 verify", raw_verify, "verify"),
        (
            "fedi sign_request (cavage)",
            lambda: sign_request("POST", URL, {}, BODY, KEY_ID, private_key),
            "sign",
        ),
        (
            "fedi sign_request_rfc9421",
            lambda: sign_request_rfc9421("POST", URL, {}, BODY, KEY_ID, private_key),
            "sign",
        ),
        ("httpsig HeaderSigner.sign", lambda: signer.sign(plain, method="POST", path=PATH), "sign"),
        ("httpsig HeaderVerifier.verify", httpsig_verify, "verify"),
    ]
    asynchronous: list[tuple[str, Callable[[], Awaitable[object]], str]] = [
        (
            "fedi SignatureChecker (cavage)",
            lambda: checker.verify("POST", PATH, "city.example", cavage, BODY),
            "verify",
        ),
        (
            "fedi SignatureChecker (rfc9421)",
            lambda: checker.verify("POST", PATH, "city.example", rfc9421, BODY),
            "verify",
        ),
    ]
    rows = [(name, rate(operation, seconds), basis) for name, operation, basis in synchronous]
    for name, coroutine, basis in asynchronous:
        rows.append((name, await async_rate(coroutine, seconds), basis))
    return rows


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.4, help="time spent on each row (default 0.4)")
    rows = asyncio.run(measure(parser.parse_args().seconds))
    raw = {"sign": rows[0][1], "verify": rows[1][1]}
    print(f"{'operation':34} {'ops/s':>10} {'vs raw':>8}")
    for name, ops, basis in rows:
        print(f"{name:34} {ops:10.0f} {ops / raw[basis]:7.2f}x  (raw {basis})")


if __name__ == "__main__":
    main()
