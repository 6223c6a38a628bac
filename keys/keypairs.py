"""RSA key pairs and their encryption at rest with a key derived from the server secret."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from keys.errors import KeyDecryptionError

RSA_BITS = 2048
PUBLIC_EXPONENT = 65537
_HKDF_INFO = b"fedi private keys at rest v1"


@dataclass(frozen=True)
class GeneratedKeyPair:
    """A fresh key pair: the public PEM to publish and the private key encrypted for storage."""

    public_key_pem: str
    private_key_encrypted: bytes


class KeyVault:
    """Encrypts and decrypts private keys with a Fernet key derived (HKDF-SHA256) from the server secret."""

    def __init__(self, secret: str) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
            secret.encode()
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def encrypt(self, private_key: rsa.RSAPrivateKey) -> bytes:
        """The private key as an encrypted PKCS#8 token."""
        der = private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return self._fernet.encrypt(der)

    def decrypt(self, token: bytes) -> rsa.RSAPrivateKey:
        """The private key object from an encrypted token (parsed objects are cached)."""
        return _load_private_key(self._fernet, bytes(token))

    def generate(self) -> GeneratedKeyPair:
        """A new RSA-2048 key pair, ready to store."""
        private_key = rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=RSA_BITS)
        return GeneratedKeyPair(public_pem(private_key), self.encrypt(private_key))


def public_pem(private_key: rsa.RSAPrivateKey) -> str:
    """The SubjectPublicKeyInfo PEM of a private key's public half, as actors publish it."""
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@lru_cache(maxsize=4096)
def _load_private_key(fernet: Fernet, token: bytes) -> rsa.RSAPrivateKey:
    """Decrypt and parse once; signing many deliveries then costs no parsing."""
    try:
        der = fernet.decrypt(token)
    except InvalidToken:
        raise KeyDecryptionError(
            "cannot decrypt a private key: FEDI_SECRET_KEY is not the one the key was stored with"
        ) from None
    key = serialization.load_der_private_key(der, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyDecryptionError("stored private key is not an RSA key")
    return key
