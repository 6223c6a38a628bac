"""Signature throughput: raw RSA-2048 against fedi's signer and checker, and against httpsig.

Run with ``.venv/bin/python bench/signatures.py``; it takes a few seconds. Each row runs its operation
for about ``--seconds`` in each of ``--rounds`` interleaved rounds and reports its best round's operations per second and the ratio to the raw cryptography rate
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

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # the repository, not bench/

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402
from httpsig.sign import HeaderSigner  # noqa: E402
from httpsig.verify import HeaderVerifier  # noqa: E402

from bench.common import Figure, bench_main  # noqa: E402
from keys.public_keys import PublicKey  # noqa: E402
from keys.signing import sign_request, sign_request_rfc9421  # noqa: E402
from keys.verification import SignatureChecker  # noqa: E402

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


async def _measure(seconds: float, rounds: int) -> list[tuple[str, float, str]]:
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
    best: dict[str, float] = {}
    for _ in range(rounds):  # interleaved rounds, best of each: a busy moment does not favour one row
        for name, operation, basis in synchronous:
            best[name] = max(best.get(name, 0.0), rate(operation, seconds))
        for name, coroutine, basis in asynchronous:
            best[name] = max(best.get(name, 0.0), await async_rate(coroutine, seconds))
    return [(name, best[name], basis) for name, _, basis in [*synchronous, *asynchronous]]


def measure(args: argparse.Namespace) -> list[Figure]:
    """Measure and print the rows; each as a figure against the raw rate it compares with."""
    rows = asyncio.run(_measure(args.seconds, args.rounds))
    raw = {"sign": rows[0][1], "verify": rows[1][1]}
    print(f"{'operation':34} {'ops/s':>10} {'vs raw':>8}")
    for name, ops, basis in rows:
        print(f"{name:34} {ops:10.0f} {ops / raw[basis]:7.2f}x  (raw {basis})")
    return [Figure(name, ops, "ops/s") if index < 2 else Figure(name, ops, "ops/s", f"raw RSA-2048 {basis}/s", raw[basis])
            for index, (name, ops, basis) in enumerate(rows)]


def main() -> None:
    """Parse the arguments, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.4, help="time spent on each row per round (default 0.4)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; each row keeps its best (default 3)")
    bench_main(parser, measure, quick={"seconds": 0.2, "rounds": 2})


if __name__ == "__main__":
    main()
