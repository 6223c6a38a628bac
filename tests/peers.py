"""A remote fediverse server for tests: it behaves like Mastodon on the wire.

It runs on loopback with TLS from the test CA under its own host name (``peer.test:<port>``),
serves its users' actor documents, WebFinger and objects, records every POST to its inboxes, and
sends activities signed the way Mastodon signs them — with ``httpsig``, an implementation
independent of fedi's own, over ``(request-target) host date digest content-type``.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import trustme
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from httpsig.sign import HeaderSigner
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.servers import running_asgi

AS_CONTEXT = ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"]
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
ACTIVITY_JSON = "application/activity+json"


@dataclass
class PeerUser:
    """An account on the peer, with its key pair."""

    username: str
    uri: str
    private_key: rsa.RSAPrivateKey
    document: dict[str, Any]

    @property
    def key_id(self) -> str:
        """Mastodon's key id form."""
        return f"{self.uri}#main-key"

    @property
    def inbox(self) -> str:
        """The user's personal inbox."""
        return f"{self.uri}/inbox"

    @property
    def private_pem(self) -> bytes:
        """The private key as PKCS#8 PEM (what httpsig wants)."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


@dataclass(frozen=True)
class Received:
    """One POST the peer received."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def activity(self) -> dict[str, Any]:
        """The posted JSON."""
        return json.loads(self.body)


@dataclass
class RemotePeer:
    """A Mastodon-like server: users, objects, inboxes; see the module docstring."""

    name: str
    port: int = 0
    users: dict[str, PeerUser] = field(default_factory=dict)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    inbox_status: int = 202
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def host(self) -> str:
        """``name:port``, the authority in every id."""
        return f"{self.name}:{self.port}"

    @property
    def base_url(self) -> str:
        """``https://name:port``."""
        return f"https://{self.host}"

    def add_user(self, username: str, private_key: rsa.RSAPrivateKey, **extra: Any) -> PeerUser:
        """Create an account whose actor document looks like Mastodon's."""
        uri = f"{self.base_url}/users/{username}"
        pem = private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        document = {
            "@context": AS_CONTEXT,
            "id": uri,
            "type": "Person",
            "preferredUsername": username,
            "name": username.capitalize(),
            "summary": "<p>A citizen.</p>",
            "inbox": f"{uri}/inbox",
            "outbox": f"{uri}/outbox",
            "followers": f"{uri}/followers",
            "following": f"{uri}/following",
            "url": f"{self.base_url}/@{username}",
            "manuallyApprovesFollowers": False,
            "endpoints": {"sharedInbox": f"{self.base_url}/inbox"},
            "publicKey": {"id": f"{uri}#main-key", "owner": uri, "publicKeyPem": pem},
            **extra,
        }
        user = PeerUser(username, uri, private_key, document)
        self.users[username] = user
        return user

    def new_id(self, user: PeerUser, kind: str = "statuses") -> str:
        """A fresh id under the user, as Mastodon mints them."""
        return f"{user.uri}/{kind}/{next(self._ids)}"

    def note(self, user: PeerUser, content: str, **extra: Any) -> dict[str, Any]:
        """A public Note by ``user``, served at its id from now on."""
        note_id = self.new_id(user)
        note = {
            "id": note_id,
            "type": "Note",
            "attributedTo": user.uri,
            "content": content,
            "published": "2026-11-24T10:00:00Z",
            "to": [PUBLIC],
            "cc": [f"{user.uri}/followers"],
            "url": f"{self.base_url}/@{user.username}/{note_id.rsplit('/', 1)[-1]}",
            "tag": [],
            "attachment": [],
            "sensitive": False,
            "summary": None,
            "inReplyTo": None,
            **extra,
        }
        self.objects[urlsplit(note_id).path] = note
        return note

    def activity(self, user: PeerUser, kind: str, obj: Any, **extra: Any) -> dict[str, Any]:
        """An activity by ``user`` with a fresh id."""
        return {"@context": AS_CONTEXT, "id": self.new_id(user, "activities"), "type": kind, "actor": user.uri, "object": obj, **extra}

    def signed_headers(self, user: PeerUser, url: str, body: bytes, host: str | None = None) -> dict[str, str]:
        """Headers as Mastodon sends a POST, signed with httpsig."""
        parts = urlsplit(url)
        headers = {
            "Host": host or parts.netloc,
            "Date": formatdate(usegmt=True),
            "Digest": "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode(),
            "Content-Type": ACTIVITY_JSON,
        }
        signer = HeaderSigner(
            user.key_id, user.private_pem, algorithm="rsa-sha256",
            headers=["(request-target)", "host", "date", "digest", "content-type"], sign_header="signature",
        )
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return signer.sign(headers, method="POST", path=path)

    async def deliver(
        self, http: aiohttp.ClientSession, user: PeerUser, url: str, activity: dict[str, Any], host: str | None = None
    ) -> tuple[int, Any]:
        """POST ``activity`` to ``url`` signed as ``user``; ``host`` overrides the Host header."""
        body = json.dumps(activity).encode()
        headers = self.signed_headers(user, url, body, host)
        async with http.post(url, data=body, headers=headers) as response:
            text = await response.text()
            return response.status, (json.loads(text) if text else None)

    def inbox_posts(self, path: str | None = None) -> list[dict[str, Any]]:
        """Activities received (at ``path`` when given), oldest first."""
        return [r.activity for r in self.received if path is None or r.path == path]

    def app(self) -> ASGIApp:
        """The peer's web application (every request's method, path and headers are logged)."""
        inner = Starlette(
            routes=[
                Route("/.well-known/webfinger", self._webfinger),
                Route("/users/{username}", self._actor),
                Route("/users/{username}/inbox", self._inbox, methods=["POST"]),
                Route("/inbox", self._inbox, methods=["POST"]),
                Route("/{path:path}", self._object),
            ]
        )

        async def logged(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
                self.requests.append((scope["method"], scope["path"], headers))
            await inner(scope, receive, send)

        return logged

    async def _webfinger(self, request: Request) -> Response:
        resource = request.query_params.get("resource", "")
        username, _, host = resource.removeprefix("acct:").partition("@")
        user = self.users.get(username)
        if user is None or host != self.host:
            return JSONResponse({"error": "not found"}, 404)
        return JSONResponse(
            {"subject": f"acct:{username}@{self.host}", "links": [{"rel": "self", "type": ACTIVITY_JSON, "href": user.uri}]},
            media_type="application/jrd+json",
        )

    async def _actor(self, request: Request) -> Response:
        user = self.users.get(request.path_params["username"])
        if user is None:
            return JSONResponse({"error": "not found"}, 404)
        return JSONResponse(user.document, media_type=ACTIVITY_JSON)

    async def _inbox(self, request: Request) -> Response:
        self.received.append(Received(request.url.path, dict(request.headers), await request.body()))
        return Response(status_code=self.inbox_status)

    async def _object(self, request: Request) -> Response:
        found = self.objects.get(request.url.path)
        if found is None:
            return JSONResponse({"error": "not found"}, 404)
        return JSONResponse({"@context": AS_CONTEXT, **found}, media_type=ACTIVITY_JSON)


@asynccontextmanager
async def running_peer(name: str, ca: trustme.CA, workdir: Path) -> AsyncIterator[RemotePeer]:
    """Start a peer called ``name`` with a certificate from ``ca``; its port is known once it runs."""
    cert = ca.issue_cert(name, "127.0.0.1")
    chain, key = workdir / f"{name}.chain.pem", workdir / f"{name}.key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(chain)
    cert.private_key_pem.write_to_path(key)
    peer = RemotePeer(name)
    async with running_asgi(peer.app(), chain, key) as url:
        peer.port = urlsplit(url).port or 443
        yield peer
