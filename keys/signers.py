"""A signer bound to one actor's key, in the shape the HTTP client calls before each request.

The private key object is loaded (decrypted and parsed) once by whoever builds the signer and then
reused for every request; ``for_body`` binds a body's precomputed ``Digest`` for the many requests
that send the same body.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

from keys.signing import PrivateKey, sign_request


class RequestSigner:
    """Signs requests (draft-cavage, as Mastodon expects) with one key."""

    def __init__(self, key_id: str, private_key: PrivateKey) -> None:
        self.key_id = key_id
        self.private_key = private_key

    def __call__(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, *, digest: str | None = None
    ) -> dict[str, str]:
        """The headers to send, signature included (``digest``: the body's ``Digest`` value, when known)."""
        return sign_request(method, url, headers, body, self.key_id, self.private_key, digest=digest)

    def for_body(self, digest: str) -> Callable[[str, str, Mapping[str, str], bytes | None], dict[str, str]]:
        """A signer for requests carrying the body whose ``Digest`` value is ``digest``."""
        return functools.partial(self, digest=digest)
