"""Public keys of remote actors: PEM parsing with a bounded cache, and raw signature checks.

Two key types are accepted: RSA (checked with RSASSA-PKCS1-v1_5 over SHA-256, what Mastodon uses)
and Ed25519. Parsing a PEM costs far more than verifying one signature, so parsed key objects are
cached by their PEM text; cryptography's key objects are immutable and safe to share.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from keys.errors import PublicKeyError

PublicKeyObject = rsa.RSAPublicKey | ed25519.Ed25519PublicKey
KeyType = Literal["rsa", "ed25519"]

PARSED_KEY_CACHE_SIZE = 4096


@lru_cache(maxsize=PARSED_KEY_CACHE_SIZE)
def load_public_key(pem: str) -> PublicKeyObject:
    """The parsed key object of a PEM SubjectPublicKeyInfo (or PKCS#1 RSA) public key, cached."""
    try:
        key = serialization.load_pem_public_key(pem.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError, UnsupportedAlgorithm) as error:
        raise PublicKeyError(f"public key PEM does not parse: {error}") from error
    if not isinstance(key, (rsa.RSAPublicKey, ed25519.Ed25519PublicKey)):
        raise PublicKeyError(f"unsupported public key type {type(key).__name__}; use RSA or Ed25519")
    return key


def key_type(key: PublicKeyObject) -> KeyType:
    """Whether a key object is an RSA or an Ed25519 key."""
    return "rsa" if isinstance(key, rsa.RSAPublicKey) else "ed25519"


def verify_raw(key: PublicKeyObject, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` signs ``data``: PKCS#1 v1.5 SHA-256 for RSA keys, Ed25519 otherwise."""
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class PublicKey:
    """A remote actor's public key as its key document names it; ``retired`` keys sign nothing."""

    key_id: str
    owner: str
    pem: str
    retired: bool = False

    @property
    def key(self) -> PublicKeyObject:
        """The parsed key object (through the shared cache)."""
        return load_public_key(self.pem)

    @property
    def type(self) -> KeyType:
        """``rsa`` or ``ed25519``."""
        return key_type(self.key)
