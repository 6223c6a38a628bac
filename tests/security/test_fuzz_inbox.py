"""Property-based tests of the inbox: its parsing steps, the whole HTTP pipeline, and the handlers.

The pipeline's steps answer any input with a result or ``Rejected``; a running server answers any
POST — arbitrary bytes, JSON values, activity shapes, junk or valid signatures — below 500, with
``{"error": ...}`` on every 4xx; and activities it accepts, generated from the captured payloads
with fields dropped, retyped and repointed, are handled without any error but fedi's own.
"""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import asyncpg
import pytest
import trustme
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import event, example, given
from hypothesis import strategies as st

from actors.queries import LocalActor
from actors.remote_documents import host_of, object_id
from fedi.database import connect
from fedi.errors import FediError
from fedi.settings import Settings, load_settings
from inbox.pipeline import ACTIVITY_MEDIA_TYPES, Rejected, check_content_type, check_origin, nesting_depth, parse_activity
from inbox.processing import InboxTask
from keys.keypairs import KeyVault
from tests.conftest import TEST_SECRET
from tests.factories import make_department
from tests.fuzzing import nasty_text
from tests.inbox.support import FIXTURES, LOCAL_HOSTS, LOCAL_USERS, REMOTE_ACTORS, REMOTE_HOSTS, local_post
from tests.peers import ACTIVITY_JSON, PUBLIC, RemotePeer, running_peer
from tests.servers import RunningInstance, running_server, trusting_http_client_factory

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), nasty_text)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
ACTIVITY_TYPES = (
    "Create", "Update", "Delete", "Like", "Announce", "Follow", "Undo", "Accept", "Reject", "Flag", "Block",
    "EmojiReact", "Move", "Note", "Person", "",
)
FIELDS = ("id", "type", "actor", "object", "target", "to", "cc", "content", "summary", "tag", "inReplyTo", "attributedTo")


def reference_depth(value: Any) -> int:
    """How deeply objects and arrays nest, counted the obvious recursive way."""
    if isinstance(value, dict):
        return 1 + max((reference_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((reference_depth(v) for v in value), default=0)
    return 0


def nested(depth: int, kind: str) -> Any:
    """A value nested ``depth`` levels deep in lists or objects."""
    value: Any = "leaf"
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


loose_activity = st.fixed_dictionaries(
    {}, optional={field: st.one_of(json_values, st.sampled_from(ACTIVITY_TYPES), st.from_regex(r"https?://[a-z.]{1,12}/[a-z0-9/#]{0,20}", fullmatch=True)) for field in FIELDS}
)


@given(st.one_of(st.binary(max_size=500), json_values.map(lambda v: json.dumps(v).encode()), loose_activity.map(lambda v: json.dumps(v).encode()),
                 st.integers(1, 50_000).map(lambda n: b"[" * n + b"]" * n)))
@example(b'{"id": "x", "type": "Like", "actor": "y", "n": NaN}')
@example(b"\xff\xfe{")
@example(b'{"id": "a", "type": "b", "actor": {"id": ["c"]}}')
def test_fuzz_parse_activity_returns_an_activity_or_rejects(body: bytes) -> None:
    """A body is an activity with string id, type and actor, or it is refused with 400."""
    try:
        activity = parse_activity(body, 24)
    except Rejected as rejection:
        assert rejection.status == 400 and rejection.error.startswith("parse: ")
        return
    assert isinstance(activity["id"], str) and isinstance(activity["type"], str)
    assert isinstance(object_id(activity["actor"]), str)
    assert reference_depth(activity) <= 24


@given(st.one_of(json_values, st.tuples(st.integers(0, 60), st.sampled_from(["list", "dict"])).map(lambda t: nested(*t))), st.integers(0, 40))
def test_fuzz_nesting_depth_counts_like_recursion(value: Any, limit: int) -> None:
    """The depth is exact up to the limit, and past the limit it says so."""
    depth = nesting_depth(value, limit)
    expected = reference_depth(value)
    assert depth == expected if expected <= limit else depth > limit


media_types = st.builds(
    lambda base, params: base + params,
    st.one_of(st.sampled_from(sorted(ACTIVITY_MEDIA_TYPES) + ["text/html", "application/xml", "multipart/form-data"]).map(
        lambda t: "".join(c.upper() if i % 2 else c for i, c in enumerate(t))), nasty_text.map(lambda s: s[:50])),
    st.sampled_from(["", "; charset=utf-8", ';profile="https://www.w3.org/ns/activitystreams"', ";", " ; x=y"]),
)


@given(st.none() | media_types)
@example(" APPLICATION/ACTIVITY+JSON ; charset=utf-8")
def test_fuzz_content_type_is_accepted_or_refused_with_415(value: str | None) -> None:
    """Only the ActivityPub JSON media types pass (any case, any parameters); the rest get 415."""
    media_type = (value or "").split(";", 1)[0].strip().lower()
    try:
        check_content_type(value)
    except Rejected as rejection:
        assert rejection.status == 415 and media_type not in ACTIVITY_MEDIA_TYPES
        return
    assert media_type in ACTIVITY_MEDIA_TYPES


SIGNER = "https://peer.test/users/alice"
urls = st.one_of(
    st.sampled_from([
        SIGNER, f"{SIGNER}/statuses/1", "https://peer.test/users/bob", "https://other.test/users/alice",
        "https://PEER.test/users/alice/x", "https://peer.test:443/x", "https://city.example/users/library", PUBLIC,
        "", "peer.test", "//peer.test/x", "https://", "http://[", "https://[::1/x", "https://peer.test]x",
    ]),
    nasty_text.map(lambda s: s[:60]),
)
references = st.recursive(
    urls | json_scalars,
    lambda children: st.lists(children, max_size=3) | st.fixed_dictionaries(
        {}, optional={"id": urls, "type": st.sampled_from(ACTIVITY_TYPES), "actor": children, "attributedTo": children}
    ),
    max_leaves=6,
)
origin_activities = st.fixed_dictionaries(
    {"id": urls, "type": st.sampled_from(ACTIVITY_TYPES), "actor": references}, optional={"object": references}
).filter(lambda a: isinstance(object_id(a["actor"]), str) and isinstance(a["id"], str) and a["id"])


@given(origin_activities, st.sampled_from([SIGNER, "https://other.test/users/alice"]))
@example({"id": "http://[", "type": "Like", "actor": SIGNER, "object": f"{SIGNER}/statuses/1"}, SIGNER)
@example({"id": f"{SIGNER}/a", "type": "Create", "actor": SIGNER, "object": "https://[::1/x"}, SIGNER)
def test_fuzz_origin_check_accepts_only_the_signers_own(activity: dict[str, Any], signer: str) -> None:
    """An activity passes only when its actor is the signer and its id is on the signer's host."""
    try:
        check_origin(activity, signer)
    except Rejected as rejection:
        assert rejection.status in (400, 401, 403) and rejection.error
        return
    assert object_id(activity["actor"]) == signer
    assert host_of(activity["id"]) == host_of(signer)


# ---------- the running server ----------


@pytest.fixture(scope="module")
async def fuzz_database(postgres_server: Any, template_database: str) -> AsyncIterator[str]:
    """One migrated database for the whole module (examples share it, as a server's requests do)."""
    admin = await asyncpg.connect(postgres_server.get_uri("postgres"))
    name = f"fuzz_inbox_{secrets.token_hex(3)}"
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    try:
        yield postgres_server.get_uri(name)
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(scope="module")
def fuzz_settings(fuzz_database: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The server's settings; no rate limit, so every example reaches the steps behind it."""
    return load_settings(
        environ={}, domain="city.example", secret_key=TEST_SECRET, database_url=fuzz_database,
        data_dir=str(tmp_path_factory.mktemp("fuzz-var")), inbox_rate_limit="off",
    )


@pytest.fixture(scope="module")
async def fuzz_peer(
    test_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory, rsa_keys: list[rsa.RSAPrivateKey]
) -> AsyncIterator[RemotePeer]:
    """A Mastodon-like peer with the citizen alice."""
    async with running_peer("peer.test", test_ca, Path(tmp_path_factory.mktemp("fuzz-peer"))) as remote:
        remote.add_user("alice", rsa_keys[0])
        yield remote


@pytest.fixture(scope="module")
async def fuzz_server(fuzz_settings: Settings, test_ca: trustme.CA) -> AsyncIterator[RunningInstance]:
    """One running fedi server for the module."""
    async with running_server(fuzz_settings, http_client=trusting_http_client_factory(test_ca)) as running:
        yield running


@pytest.fixture(scope="module")
async def fuzz_library(fuzz_server: RunningInstance, fuzz_settings: Settings, vault: KeyVault) -> LocalActor:
    """The department the activities are addressed to."""
    conn = await connect(fuzz_settings.database_url)
    try:
        return await make_department(conn, fuzz_settings, vault, "library")
    finally:
        await conn.close()


@pytest.fixture(scope="module")
async def fuzz_http() -> AsyncIterator[aiohttp.ClientSession]:
    """One HTTP client for the module."""
    async with aiohttp.ClientSession() as session:
        yield session


# Placeholders in generated activities, replaced by the running servers' addresses when sent.
PEER, CITY = "https://peer.invalid", "https://city.invalid"
ALICE, LIBRARY = f"{PEER}/users/alice", f"{CITY}/users/library"
PUBLIC_POST, PRIVATE_POST = f"{LIBRARY}/statuses/fuzz-public", f"{LIBRARY}/statuses/fuzz-private"
ALICE_NOTE = f"{ALICE}/statuses/fuzz-question"
TARGETS = (
    LIBRARY, f"{LIBRARY}/followers", PUBLIC_POST, f"{CITY}/@library/fuzz-public", PRIVATE_POST, ALICE_NOTE, ALICE,
    f"{ALICE}/followers", f"{ALICE}/statuses/missing", f"{PEER}/users/bob", f"{CITY}/users/nobody",
    "https://other.test/users/carol", PUBLIC, "", "http://[", "https://[::1/x", "javascript:alert(1)",
    f"{ALICE}/statuses/\u00e9\u0000",
)


def _seed(path: Path) -> dict[str, Any]:
    """A captured payload with alice as its actor and the library as its local user, in placeholders."""
    text = path.read_text(encoding="utf-8")
    for originals, placeholder in ((REMOTE_ACTORS, ALICE), (LOCAL_USERS, LIBRARY), (LOCAL_HOSTS, CITY), (REMOTE_HOSTS, PEER)):
        for original in originals:
            text = text.replace(original, placeholder)
    return json.loads(text)


SEEDS = [
    seed for seed in map(_seed, sorted(FIXTURES.glob("*.json")))
    if isinstance(seed, dict) and "actor" in seed and seed.get("type") in ACTIVITY_TYPES
]


@pytest.fixture(scope="module")
async def placeholders(
    fuzz_server: RunningInstance, fuzz_settings: Settings, fuzz_library: LocalActor, fuzz_peer: RemotePeer
) -> dict[str, str]:
    """What each placeholder stands for; the library's two posts and alice's question exist."""
    conn = await connect(fuzz_settings.database_url)
    real = {PEER: fuzz_peer.base_url, CITY: fuzz_settings.base_url}
    try:
        await local_post(conn, fuzz_library, realize(PUBLIC_POST, real), url=realize(f"{CITY}/@library/fuzz-public", real))
        await local_post(conn, fuzz_library, realize(PRIVATE_POST, real), visibility="private")
    finally:
        await conn.close()
    note = fuzz_peer.note(fuzz_peer.users["alice"], "<p>Is the library open on Sunday?</p>", inReplyTo=realize(PUBLIC_POST, real))
    fuzz_peer.objects[urlsplit(realize(ALICE_NOTE, real)).path] = {**note, "id": realize(ALICE_NOTE, real)}
    assert realize(LIBRARY, real) == fuzz_library.uri
    return real


def realize(text: str, placeholders: dict[str, str]) -> str:
    """``text`` with the placeholders replaced by real addresses."""
    for placeholder, real in placeholders.items():
        text = text.replace(placeholder, real)
    return text


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    """A captured activity with a fresh id and a few fields dropped, retyped or pointed elsewhere."""
    activity = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    activity["id"] = f"{ALICE}/activities/{draw(st.uuids())}"
    obj = activity.get("object")
    if isinstance(obj, dict) and draw(st.booleans()):
        obj["id"] = f"{ALICE}/statuses/{draw(st.uuids())}"
    value = st.one_of(st.sampled_from(TARGETS), json_values, st.lists(st.sampled_from(TARGETS), max_size=3),
                      st.sampled_from(ACTIVITY_TYPES))
    for _ in range(draw(st.integers(0, 5))):
        where = activity["object"] if isinstance(activity.get("object"), dict) and draw(st.booleans()) else activity
        key = draw(st.sampled_from(sorted(set(where) | set(FIELDS) | {"sensitive", "published", "attachment", "contentMap", "url"})))
        if draw(st.integers(0, 3)) == 0:
            where.pop(key, None)
        else:
            where[key] = draw(value)
    for field in ("id", "type"):  # what the pipeline requires to get this far
        if not isinstance(activity.get(field), str) or not activity[field]:
            activity[field] = f"{ALICE}/activities/{draw(st.uuids())}" if field == "id" else draw(st.sampled_from(ACTIVITY_TYPES[:13]))
    activity["actor"] = draw(st.sampled_from([ALICE, {"id": ALICE, "type": "Person"}, [ALICE]]))
    return activity


async def post(http: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, str]:
    """POST raw bytes; the status, body and content type of the answer."""
    async with http.post(url, data=body, headers=headers) as response:
        return response.status, await response.read(), response.headers.get("content-type", "")


def assert_answer(status: int, body: bytes, content_type: str) -> None:
    """Never a server error; 202 is empty; every 4xx is ``{"error": "..."}`` as JSON."""
    assert status < 500, (status, body[:300])
    if status == 202:
        assert body == b""
    elif 400 <= status < 500:
        assert content_type.startswith("application/json"), (status, content_type, body[:300])
        answer = json.loads(body)
        assert isinstance(answer, dict) and isinstance(answer.get("error"), str) and answer["error"], answer


header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=200)
junk_headers = st.dictionaries(
    st.sampled_from(["Signature", "Signature-Input", "Authorization", "Date", "Digest", "Content-Digest", "Content-Type",
                     "Accept", "X-Forwarded-For", "X-Forwarded-Proto", "Host"]),
    st.one_of(header_text, st.sampled_from([
        'keyId="https://peer.test/users/alice#main-key",headers="(request-target) host date",signature="YQ=="',
        'sig1=("@method" "@target-uri");created=1;keyid="https://peer.test/users/alice#main-key"', "sig1=:YQ==:",
        "Tue, 24 Nov 2026 12:00:00 GMT", "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", ACTIVITY_JSON, "",
    ])),
    max_size=7,
)


inbox_paths = st.one_of(
    st.sampled_from(["/inbox", "/actor/inbox", "/users/library/inbox", "/users/nobody/inbox", "/users/LIBRARY/inbox"]),
    st.text(min_size=1, max_size=12).map(lambda name: f"/users/{quote(name, safe='')}/inbox"),
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    loose_activity.map(lambda v: json.dumps(v).encode()),
    mutated().map(lambda v: json.dumps(v).encode()),
    mutated().map(lambda v: json.dumps(v)[: len(json.dumps(v)) // 2].encode()),
    st.integers(20, 50_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
)
NUL_LIKE = json.dumps({"id": f"{ALICE}/activities/nul", "type": "Like", "actor": ALICE, "object": PUBLIC_POST, "content": "\u0000"})
BAD_URL_LIKE = json.dumps({"id": "http://[", "type": "Like", "actor": ALICE, "object": PUBLIC_POST})
BAD_URL_CREATE = json.dumps({"id": f"{ALICE}/activities/bad-url", "type": "Create", "actor": ALICE, "object": "https://[::1/x"})
BAD_URL_ACTOR = json.dumps({"id": f"{ALICE}/activities/bad-actor", "type": "Like", "actor": "http://[", "object": PUBLIC_POST})
LISTED_TYPE_CREATE = json.dumps({"id": f"{ALICE}/activities/listed-type", "type": "Create", "actor": ALICE,
                                 "object": {"id": f"{ALICE}/statuses/listed-type", "type": ["Note"], "attributedTo": ALICE}})
NAN_LIKE = '{"id": "%s/activities/nan", "type": "Like", "actor": "%s", "object": "%s", "n": NaN}' % (ALICE, ALICE, PUBLIC_POST)


@given(bodies, inbox_paths, st.booleans(), st.one_of(junk_headers, st.dictionaries(
    st.sampled_from(["Content-Type", "Date", "Digest"]), header_text, max_size=1)))
@example(NUL_LIKE.encode(), "/inbox", True, {})
@example(NAN_LIKE.encode(), "/inbox", True, {})
@example(BAD_URL_LIKE.encode(), "/inbox", True, {})
@example(BAD_URL_ACTOR.encode(), "/inbox", False, {})
@example(b"{}", "/users/%00/inbox", False, {})
@example(LISTED_TYPE_CREATE.encode(), "/inbox", True, {})
@example(BAD_URL_CREATE.encode(), "/users/library/inbox", True, {})
async def test_fuzz_inbox_answers_any_request_without_server_error(
    fuzz_http: aiohttp.ClientSession, fuzz_server: RunningInstance, fuzz_peer: RemotePeer, fuzz_settings: Settings,
    placeholders: dict[str, str],
    body: bytes, path: str, signed: bool, headers: dict[str, str],
) -> None:
    """Any body with any headers, signed by alice or not, gets 202 or a 4xx with a JSON error; never a 5xx."""
    body = realize(body.decode("latin-1"), placeholders).encode("latin-1") if body.isascii() else body
    url = fuzz_server.base_url + path
    if signed:  # a valid signature, then maybe one signed header spoiled
        headers = {**fuzz_peer.signed_headers(fuzz_peer.users["alice"], url, body, fuzz_settings.domain), **{
            name: value for name, value in headers.items() if name in ("Content-Type", "Date", "Digest")}}
    else:
        headers = {"Content-Type": ACTIVITY_JSON, **headers}
    assert_answer(*await post(fuzz_http, url, body, headers))


BAD_URL_REPLY = {
    "id": f"{ALICE}/activities/bad-url-reply", "type": "Create", "actor": ALICE,
    "object": {"id": f"{ALICE}/statuses/bad-url-reply", "type": "Note", "attributedTo": ALICE, "inReplyTo": PUBLIC_POST,
               "content": "<p>Thanks!</p>", "to": [PUBLIC], "url": "http://[", "tag": [{"type": "Mention", "href": "https://[::1/x"}]},
}


@given(mutated(), st.sampled_from(["/inbox", "/users/library/inbox"]))
@example(BAD_URL_REPLY, "/users/library/inbox")
@example(json.loads(NUL_LIKE), "/inbox")
async def test_fuzz_accepted_activities_are_handled_without_unexpected_errors(
    fuzz_http: aiohttp.ClientSession, fuzz_server: RunningInstance, fuzz_peer: RemotePeer, fuzz_settings: Settings,
    placeholders: dict[str, str],
    activity: dict[str, Any], path: str,
) -> None:
    """Signed activity shapes are stored or refused; each stored one is handled, failing only with fedi's errors."""
    body = realize(json.dumps(activity), placeholders).encode()
    url = fuzz_server.base_url + path
    headers = fuzz_peer.signed_headers(fuzz_peer.users["alice"], url, body, fuzz_settings.domain)  # addressed to our domain
    status, answer, content_type = await post(fuzz_http, url, body, headers)
    assert_answer(status, answer, content_type)
    event(f"answered {status}" + (f" ({json.loads(answer)['error'][:50]})" if status != 202 else ""))
    services = fuzz_server.services
    task = InboxTask(services.pool, services.resolver, services.settings)
    while items := await task.claim(16):  # until every due item is handled (failed ones wait for their retry)
        for item in items:
            try:
                await task.process(item)
            except FediError as error:  # the declared errors: recorded on the row and retried, as the worker does
                event(f"{item.activity_type} failed with {type(error).__name__}")
                await task.failed(item, error)
            else:
                event(f"{item.activity_type} handled")
    if status == 202:  # stored and handled (or failed with its error recorded), unless an unverifiable self-Delete
        sent = json.loads(body)
        async with services.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT state, last_error FROM inbox_items WHERE activity_id = $1", sent["id"])
        if row is None:
            assert sent["type"] == "Delete" and object_id(sent.get("object")) == object_id(sent["actor"])
        else:
            assert row["state"] == "done" or row["last_error"], dict(row)
