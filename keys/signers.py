"""A signer bound to one actor's key, in the shape the HTTP client calls before each request."""

from __future__ import annotations

from collections.abc import Mapping

from keys.signing import PrivateKey, sign_request


class RequestSigner:
    """Signs requests (draft-cavage, as Mastodon expects) with one key."""

    def __init__(self, key_id: str, private_key: PrivateKey) -> None:
        self.key_id = key_id
        self.private_key = private_key

    def __call__(self, method: str, url: str, headers: Mapping[str, str], body: bytes | None) -> dict[str, str]:
        """The headers to send, signature included."""
        return sign_request(method, url, headers, body, self.key_id, self.private_key)
