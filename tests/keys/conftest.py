"""Key pairs (generated once per run: RSA generation is slow) and a recording key lookup."""

from __future__ import annotations

import base64
import dataclasses
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from keys.errors import SignatureCheckError, SignatureError
from keys.public_keys import PublicKey
from keys.signing import PrivateKey
from keys.verification import SignatureChecker, VerifiedSignature

# RFC 9421 appendix B.1.4 (test-key-ed25519, public half) and B.2.6 (signing a request using ed25519).
RFC_ED25519_PUBLIC = base64.urlsafe_b64decode("JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs=")
RFC_HEADERS = {
    "Host": "example.com",
    "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "Content-Type": "application/json",
    "Content-Length": "18",
    "Signature-Input": 'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"',
    "Signature": "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQ"
    "v5lIp5WPpBKRCw==:",
}


def rfc_public_key_pem() -> str:
    """The SubjectPublicKeyInfo PEM of RFC 9421's test-key-ed25519."""
    key = ed25519.Ed25519PublicKey.from_public_bytes(RFC_ED25519_PUBLIC)
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def public_pem(private_key: PrivateKey) -> str:
    """The SubjectPublicKeyInfo PEM of a private key's public half."""
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def private_pem(private_key: PrivateKey) -> str:
    """The unencrypted PKCS#8 PEM of a private key."""
    return private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def pkcs1_signature(private_key: PrivateKey, text: str) -> str:
    """Base64 RSASSA-PKCS1-v1_5 SHA-256 signature of a text, straight from cryptography."""
    assert isinstance(private_key, rsa.RSAPrivateKey)
    return base64.b64encode(private_key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def text_headers(message: requests.PreparedRequest) -> dict[str, str]:
    """A prepared request's headers as a plain str -> str dict."""
    return {
        name: value if isinstance(value, str) else value.decode() for name, value in message.headers.items()
    }


def http_date(moment: datetime) -> str:
    """An IMF-fixdate ``Date`` value, formatted here rather than by the code under test."""
    return moment.astimezone(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


@dataclasses.dataclass(frozen=True)
class Request:
    """What the checker sees of an incoming request."""

    method: str
    path: str
    authority: str
    headers: dict[str, str]
    body: bytes

    async def check(self, checker: SignatureChecker) -> VerifiedSignature:
        """Run the checker on this request."""
        return await checker.verify(self.method, self.path, self.authority, self.headers, self.body)


def with_header(request: Request, name: str, value: str) -> Request:
    """The request with one header set (added or replaced in that spelling)."""
    return dataclasses.replace(request, headers={**request.headers, name: value})


async def expect_failure(checker: SignatureChecker, request: Request, reason: str) -> SignatureCheckError:
    """Check that verification fails with ``reason``; return the error."""
    with pytest.raises(SignatureCheckError) as caught:
        await request.check(checker)
    assert caught.value.reason == reason, str(caught.value)
    assert isinstance(caught.value, SignatureError)
    return caught.value


@dataclass(frozen=True)
class Actor:
    """A remote actor that signs requests: its key id, owner and private key."""

    key_id: str
    owner: str
    private_key: PrivateKey

    @property
    def public_key(self) -> PublicKey:
        """The public key document as a lookup would return it."""
        return PublicKey(self.key_id, self.owner, public_pem(self.private_key))


@dataclass
class KeyDirectory:
    """An injected key lookup: ``cached`` answers refresh=False, ``fresh`` answers refresh=True."""

    cached: dict[str, PublicKey] = field(default_factory=dict)
    fresh: dict[str, PublicKey] = field(default_factory=dict)
    calls: list[tuple[str, bool]] = field(default_factory=list)

    def add(self, key: PublicKey) -> None:
        """Know a key both in the cache and at its origin."""
        self.cached[key.key_id] = self.fresh[key.key_id] = key

    async def __call__(self, key_id: str, refresh: bool) -> PublicKey | None:
        self.calls.append((key_id, refresh))
        if refresh:
            if key_id in self.fresh:
                self.cached[key_id] = self.fresh[key_id]
            return self.fresh.get(key_id)
        return self.cached.get(key_id, self.fresh.get(key_id))


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    """An RSA-2048 private key for the whole run."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def second_rsa_key() -> rsa.RSAPrivateKey:
    """Another RSA-2048 private key (a rotated key, or a stranger's)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def ed25519_key() -> ed25519.Ed25519PrivateKey:
    """An Ed25519 private key for the whole run."""
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture(scope="session")
def alice(rsa_key: rsa.RSAPrivateKey) -> Actor:
    """A Mastodon user signing with RSA."""
    return Actor(
        "https://mastodon.example/users/alice#main-key", "https://mastodon.example/users/alice", rsa_key
    )


@pytest.fixture(scope="session")
def mallory(second_rsa_key: rsa.RSAPrivateKey) -> Actor:
    """Another actor with a key of her own."""
    return Actor(
        "https://evil.example/users/mallory#main-key", "https://evil.example/users/mallory", second_rsa_key
    )


@pytest.fixture(scope="session")
def carol(ed25519_key: ed25519.Ed25519PrivateKey) -> Actor:
    """An actor signing with Ed25519."""
    return Actor("https://other.example/carol#ed25519-key", "https://other.example/carol", ed25519_key)


@pytest.fixture
def directory(alice: Actor, mallory: Actor, carol: Actor) -> KeyDirectory:
    """A key lookup that knows alice, mallory and carol."""
    keys = KeyDirectory()
    for actor in (alice, mallory, carol):
        keys.add(actor.public_key)
    return keys


@pytest.fixture
def checker(directory: KeyDirectory) -> SignatureChecker:
    """A checker with the default windows (12 h old, 1 h ahead) over ``directory``."""
    return SignatureChecker(directory)
