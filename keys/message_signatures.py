"""RFC 9421 HTTP Message Signatures: the ``Signature-Input``/``Signature`` fields and the signature base.

Both fields are RFC 8941 structured dictionaries keyed by a label; each ``Signature-Input`` member is
an inner list of covered component names with parameters (``created``, ``keyid``, ``alg``,
``expires``, ``nonce``, ``tag``), each ``Signature`` member a byte sequence. The small parser here
handles the parts of RFC 8941 these fields use (no decimals, dates or display strings).
Derived components supported: ``@method``, ``@target-uri``, ``@authority``, ``@scheme``,
``@request-target``, ``@path`` and ``@query``; header components must carry no parameters.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass

from keys.errors import SignatureCheckError
from keys.public_keys import KeyType

# alg parameter -> key type it requires; a signature without alg takes the key's own type.
ALGORITHMS: dict[str, KeyType] = {"rsa-v1_5-sha256": "rsa", "ed25519": "ed25519"}
ALGORITHM_OF_KEY_TYPE: dict[KeyType, str] = {"rsa": "rsa-v1_5-sha256", "ed25519": "ed25519"}

BareItem = int | str | bytes | bool
Params = dict[str, BareItem]
Component = tuple[str, Params]

_KEY = re.compile(r"[a-z*][a-z0-9_.*-]*")
_TOKEN = re.compile(r"[A-Za-z*][!#$%&'*+.^_`|~0-9A-Za-z:/-]*")
_INTEGER = re.compile(r"-?[0-9]{1,15}")
_STRING = re.compile(r'"((?:[ !#-\[\]-~]|\\["\\])*)"')
_BYTES = re.compile(r":([A-Za-z0-9+/=]*):")
_BOOLEAN = re.compile(r"\?[01]")
_UNESCAPE = re.compile(r"\\(.)")
_NEXT_MEMBER = re.compile(r",[ \t]*(?=.)")
_DEFAULT_PORTS = {"https": "443", "http": "80"}


class Token(str):
    """A structured-field token, serialized bare (a plain ``str`` is a quoted string)."""


@dataclass(frozen=True)
class MessageSignature:
    """One labelled signature: its covered components, parameters and signature bytes."""

    label: str
    components: tuple[Component, ...]
    params: Params
    signature: bytes

    @property
    def names(self) -> tuple[str, ...]:
        """The covered component names, in order."""
        return tuple(name for name, _ in self.components)

    def param(self, name: str) -> BareItem | None:
        """A signature parameter (``created``, ``keyid``, ``alg``...) or None."""
        return self.params.get(name)


def parse_message_signatures(signature_input: str, signature: str) -> list[MessageSignature]:
    """The labelled signatures of a request, in ``Signature-Input`` order."""
    inputs, values = _parse_dictionary(signature_input), _parse_dictionary(signature)
    found = []
    for label, (members, params) in inputs.items():
        raw = values.get(label, (None, {}))[0]
        if not isinstance(members, list) or not isinstance(raw, bytes):
            raise SignatureCheckError("malformed_signature", f"signature {label!r} is incomplete")
        if not all(isinstance(name, str) and not isinstance(name, Token) for name, _ in members):
            raise SignatureCheckError(
                "malformed_signature", f"signature {label!r} names a non-string component"
            )
        found.append(MessageSignature(label, tuple((str(n), p) for n, p in members), params, raw))
    return found


def serialize_signature_params(components: tuple[Component, ...], params: Params) -> str:
    """The inner list ``("@method" ...);created=...`` as ``Signature-Input`` and the base carry it."""
    inner = " ".join(_serialize_bare(name) + _serialize_params(p) for name, p in components)
    return f"({inner}){_serialize_params(params)}"


def signature_base(
    components: tuple[Component, ...],
    params: Params,
    method: str,
    target_uri: str,
    headers: Mapping[str, str],
) -> bytes:
    """The bytes an RFC 9421 signature signs; ``headers`` must be normalized (lowercase names)."""
    scheme, _, rest = target_uri.partition("://")
    split = rest.find("/") if "/" in rest else len(rest)
    authority, request_target = rest[:split], rest[split:] or "/"
    path, _, query = request_target.partition("?")
    derived = {
        "@method": method.upper(),
        "@target-uri": target_uri,
        "@authority": _normalize_authority(scheme.lower(), authority.lower()),
        "@scheme": scheme.lower(),
        "@request-target": request_target,
        "@path": path or "/",
        "@query": "?" + query,
    }
    lines = []
    for name, component_params in components:
        if component_params or (name.startswith("@") and name not in derived):
            raise SignatureCheckError("unsupported_component", f"component {name!r} is not supported")
        if name.startswith("@"):
            value = derived[name]
        elif name in headers:
            value = headers[name]
        else:
            raise SignatureCheckError(
                "malformed_signature", f"covered header {name!r} is absent from the request"
            )
        lines.append(f'"{name}": {value}')
    lines.append(f'"@signature-params": {serialize_signature_params(components, params)}')
    try:
        return "\n".join(lines).encode("ascii")
    except UnicodeEncodeError as error:
        raise SignatureCheckError("malformed_signature", "signature base is not ASCII") from error


def _normalize_authority(scheme: str, authority: str) -> str:
    host, colon, port = authority.rpartition(":")
    if not colon or authority.endswith("]"):
        return authority
    return host if port == _DEFAULT_PORTS.get(scheme) else authority


def _serialize_bare(value: BareItem) -> str:
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    if isinstance(value, Token):
        return str(value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _serialize_params(params: Params) -> str:
    return "".join(
        f";{key}" if value is True else f";{key}={_serialize_bare(value)}" for key, value in params.items()
    )


class _Parser:
    """A cursor over one structured dictionary field."""

    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0

    def fail(self, what: str) -> SignatureCheckError:
        near = self.text[self.pos : self.pos + 30]
        return SignatureCheckError("malformed_signature", f"structured field: expected {what} near {near!r}")

    def skip(self, chars: str = " \t") -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos : self.pos + 1]

    def take(self, pattern: re.Pattern[str], what: str) -> re.Match[str]:
        match = pattern.match(self.text, self.pos)
        if match is None:
            raise self.fail(what)
        self.pos = match.end()
        return match

    def bare(self) -> BareItem:
        first = self.peek()
        if first == "-" or first.isdigit():
            number = self.take(_INTEGER, "an integer")
            if self.peek() == ".":
                raise self.fail("an integer, not a decimal")
            return int(number[0])
        if first == '"':
            text = self.take(_STRING, "a string")[1]
            return _UNESCAPE.sub(r"\1", text) if "\\" in text else text
        if first == ":":
            try:
                return base64.b64decode(self.take(_BYTES, "a byte sequence")[1], validate=True)
            except ValueError as error:
                raise self.fail("base64") from error
        if first == "?":
            return self.take(_BOOLEAN, "a boolean")[0] == "?1"
        return Token(self.take(_TOKEN, "an item")[0])

    def params(self) -> Params:
        params: Params = {}
        while self.peek() == ";":
            self.pos += 1
            self.skip(" ")
            key = self.take(_KEY, "a parameter name")[0]
            params[key] = True
            if self.peek() == "=":
                self.pos += 1
                params[key] = self.bare()
        return params

    def member(self) -> tuple[BareItem | list[tuple[BareItem, Params]], Params]:
        if self.peek() != "(":
            return self.bare(), self.params()
        self.pos += 1
        items: list[tuple[BareItem, Params]] = []
        while True:
            self.skip(" ")
            if self.peek() == ")":
                self.pos += 1
                return items, self.params()
            items.append((self.bare(), self.params()))
            if self.peek() not in (" ", ")"):
                raise self.fail("a space or ')'")


def _parse_dictionary(text: str) -> dict[str, tuple[BareItem | list[tuple[BareItem, Params]], Params]]:
    parser = _Parser(text.strip())
    members: dict[str, tuple[BareItem | list[tuple[BareItem, Params]], Params]] = {}
    while parser.pos < len(parser.text):
        key = parser.take(_KEY, "a dictionary key")[0]
        if key in members:
            raise parser.fail(f"one member {key!r}, not two")
        if parser.peek() == "=":
            parser.pos += 1
            members[key] = parser.member()
        else:
            members[key] = (True, parser.params())
        parser.skip()
        if parser.pos < len(parser.text):
            parser.take(_NEXT_MEMBER, "',' and another member")
    return members
