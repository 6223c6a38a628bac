"""PKCE (RFC 7636) with the S256 method only, as Mastodon 4.3 advertises."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

S256 = "S256"
# Verifiers and S256 challenges alike: 43 to 128 unreserved characters.
PKCE_VALUE_RE = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")


def s256_challenge(verifier: str) -> str:
    """BASE64URL(SHA256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def verifier_matches(challenge: str, verifier: str) -> bool:
    """Whether ``verifier`` is well formed and hashes to ``challenge`` (compared in constant time)."""
    if not PKCE_VALUE_RE.match(verifier):
        return False
    return hmac.compare_digest(s256_challenge(verifier), challenge)
