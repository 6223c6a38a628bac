"""Errors raised by the keys package."""

from fedi.errors import FediError


class KeysError(FediError):
    """Base of the keys package's errors."""


class KeyDecryptionError(KeysError):
    """A private key cannot be decrypted: the server secret changed or the row is damaged."""


class SignatureError(KeysError):
    """A request's signature did not verify; ``reason`` says which check failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SignatureCheckError(SignatureError):
    """A signature check failed: ``reason`` is a short code, ``detail`` says what was wrong."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason)
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


class PublicKeyError(KeysError):
    """A public key cannot be used: its PEM does not parse or its type is not supported."""
