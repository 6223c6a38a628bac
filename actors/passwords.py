"""Staff passwords: Argon2id hashes (argon2-cffi's RFC 9106 defaults), checked in constant time.

A login for an unknown name, or for a staff member without a password, still runs one verification
against a fixed hash, so the answer takes as long as for a wrong password and reveals no names.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argon2 import PasswordHasher

MIN_LENGTH = 10
MAX_LENGTH = 1024


class PasswordRejected(ValueError):
    """A new password that does not meet the rules; the message says which."""


@cache
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher  # here, not at start-up: only logins and password changes need it

    return PasswordHasher()


@cache
def _decoy_hash() -> str:
    return _hasher().hash("a password no staff member has")


def check_new_password(password: str) -> str:
    """The password if it is acceptable: 10 to 1024 characters, not only spaces."""
    if len(password) < MIN_LENGTH:
        raise PasswordRejected(f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(f"the password must have at most {MAX_LENGTH} characters")
    if not password.strip():
        raise PasswordRejected("the password must not be only spaces")
    return password


def hash_password(password: str) -> str:
    """The Argon2id hash to store."""
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; a missing hash still costs one verification and never matches."""
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        return _hasher().verify(password_hash or _decoy_hash(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    return _hasher().check_needs_rehash(password_hash)
