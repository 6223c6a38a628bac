"""``fedi admin``: the real console script against the test's database, checked by output, status and rows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from actors import queries
from actors.departments import create_department, insert_department
from actors.staff import add_staff, grant_membership
from actors.validation import department_input
from fedi.settings import Settings
from keys.keypairs import KeyVault, public_pem
from keys.queries import keys_of_actor
from tests.conftest import FediCommand
from tests.processes import Result, refused

Fedi = Callable[..., Awaitable[Result]]


@pytest.fixture
def fedi(fedi_command: FediCommand) -> Fedi:
    """Run ``fedi admin ...`` against the test's database."""
    return lambda *args: fedi_command("admin", *args)


async def snapshot(conn: asyncpg.Connection) -> list[list[tuple[object, ...]]]:
    """Every row of the tables admin commands write."""
    tables = ("actors", "staff", "memberships", "keys")
    return [[tuple(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY 1, 2")] for t in tables]


async def test_department_commands(fedi: Fedi, conn: asyncpg.Connection, settings: Settings) -> None:
    created = await fedi(
        "department", "create", "library", "--name", "City Library", "--area", "Culture",
        "--summary", "Daily updates", "--field", "Opening hours=Mon-Fri 9-18",
        "--field", "Contact=library@city.example",
        "--manually-approves-followers", "--not-discoverable",
    )
    assert created.status == 0, created.err
    assert created.lines == ["created department library https://city.example/users/library"]
    library = await queries.local_actor_by_username(conn, "library")
    assert library is not None and library.manually_approves_followers and not library.discoverable
    assert [f["name"] for f in library.fields] == ["Opening hours", "Contact"]

    before = await snapshot(conn)
    refused(await fedi("department", "create", "library"), "department username 'library' is taken")
    refused(await fedi("department", "create", "li brary"), "invalid department username 'li brary'")
    refused(await fedi("department", "create", "museum", "--avatar", "ftp://x"), "avatar_url must be an absolute")
    refused(await fedi("department", "update", "library", "--field", "no equals sign"), "--field 'no equals sign'")
    refused(await fedi("department", "delete", "library"), "refusing to delete department 'library' without --yes")
    assert await snapshot(conn) == before

    updated = await fedi("department", "update", "library", "--name", "Library", "--field", "Contact=desk@city.example")
    assert updated.lines == ["updated department library: display_name, fields"]
    library = await queries.local_actor_by_username(conn, "library")
    assert library is not None and library.fields[1] == {"name": "Contact", "value": "desk@city.example"}
    assert library.area == "Culture" and not library.discoverable

    await add_staff(conn, "anna")
    await grant_membership(conn, "anna", "library", "editor")
    await insert_department(conn, settings, department_input("museum", {}))
    listed = await fedi("department", "list")
    assert listed.lines[0].split() == ["USERNAME", "DISPLAY", "NAME", "AREA", "MEMBERS"]
    assert [line.split() for line in listed.lines[1:]] == [
        ["library", "Library", "Culture", "1"], ["museum", "-", "-", "0"],
    ]

    shown = await fedi("department", "show", "library")
    assert "actor: https://city.example/users/library" in shown.lines
    assert "field: Opening hours = Mon-Fri 9-18" in shown.lines
    assert "discoverable: false" in shown.lines and "member: anna editor" in shown.lines
    assert any(line.startswith("key: https://city.example/users/library#main-key active ") for line in shown.lines)

    deleted = await fedi("department", "delete", "library", "--yes")
    assert deleted.lines == ["deleted department library (its username stays taken)"]
    assert await queries.local_actor_by_username(conn, "library") is None
    assert await queries.memberships(conn) == []
    refused(await fedi("department", "show", "library"), "no department named 'library'")


async def test_staff_and_membership_commands(fedi: Fedi, conn: asyncpg.Connection, settings: Settings) -> None:
    for name in ("library", "museum"):
        await insert_department(conn, settings, department_input(name, {}))
    added = await fedi(
        "staff", "add", "anna.svensson", "--name", "Anna Svensson", "--email", "anna@city.example",
        "--department", "library", "--role", "editor",
    )
    assert added.lines == ["added staff anna.svensson", "granted anna.svensson editor in library"], added.err

    before = await snapshot(conn)
    refused(await fedi("staff", "add", "bob", "--department", "library", "--role", "boss"), "invalid role 'boss'")
    refused(
        await fedi("staff", "add", "bob", "--department", "parks", "--role", "viewer"), "no department named 'parks'"
    )
    refused(
        await fedi("staff", "add", "bob", "--email", "ANNA@city.example"),
        "e-mail address 'ANNA@city.example' belongs to another staff member",
    )
    refused(await fedi("membership", "grant", "carl", "library", "viewer"), "no staff member named 'carl'")
    assert await snapshot(conn) == before

    assert (await fedi("staff", "add", "bob")).status == 0
    granted = await fedi("membership", "grant", "bob", "museum", "viewer")
    assert granted.lines == ["granted bob viewer in museum"]
    assert (await fedi("membership", "grant", "anna.svensson", "museum", "admin")).status == 0
    updated = await fedi("staff", "update", "bob", "--name", "Bob Berg", "--email", "bob@city.example")
    assert updated.lines == ["updated staff bob: name 'Bob Berg', email bob@city.example"]

    listed = await fedi("staff", "list")
    assert [line.split() for line in listed.lines] == [
        ["USERNAME", "NAME", "EMAIL", "DEPARTMENTS"],
        ["anna.svensson", "Anna", "Svensson", "anna@city.example", "library:editor,museum:admin"],
        ["bob", "Bob", "Berg", "bob@city.example", "museum:viewer"],
    ]
    members = await fedi("staff", "list", "--department", "library")
    assert [line.split()[0] for line in members.lines] == ["USERNAME", "anna.svensson"]

    revoked = await fedi("membership", "revoke", "anna.svensson", "museum")
    assert revoked.lines == ["revoked anna.svensson from museum"]
    refused(
        await fedi("membership", "revoke", "anna.svensson", "museum"), "'anna.svensson' is not a member of 'museum'"
    )
    assert (await fedi("staff", "remove", "bob")).lines == ["removed staff bob"]
    assert [(m.staff_username, m.department, m.role) for m in await queries.memberships(conn)] == [
        ("anna.svensson", "library", "editor"),
    ]
    assert [s.username for s in await queries.list_staff(conn)] == ["anna.svensson"]


async def test_key_rotation(fedi: Fedi, conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> None:
    library = await create_department(conn, settings, vault, department_input("library", {}))
    rotated = await fedi("keys", "rotate", "library")
    assert rotated.lines == [
        "retired https://city.example/users/library#main-key",
        "active https://city.example/users/library#key-2",
    ], rotated.err
    keys = await keys_of_actor(conn, library.id)
    assert [(k.key_id, k.retired) for k in keys] == [
        ("https://city.example/users/library#main-key", True), ("https://city.example/users/library#key-2", False),
    ]
    listed = await fedi("keys", "list", "library")
    assert [line.split()[:2] for line in listed.lines] == [
        ["https://city.example/users/library#main-key", "retired"],
        ["https://city.example/users/library#key-2", "active"],
    ]
    shown = await fedi("department", "show", "library")
    assert [line.split()[:3] for line in shown.lines if line.startswith("key: ")] == [
        ["key:", "https://city.example/users/library#main-key", "retired"],
        ["key:", "https://city.example/users/library#key-2", "active"],
    ]
    before = await snapshot(conn)
    refused(await fedi("keys", "rotate", "museum"), "no department named 'museum'")
    assert await snapshot(conn) == before


CITY = """
[[department]]
username = "library"
display_name = "City Library"
area = "Culture"
fields = [ { name = "Opening hours", value = "Mon-Fri 9-18" } ]

[[department]]
username = "parks"

[[staff]]
username = "anna.svensson"
name = "Anna Svensson"
email = "anna@city.example"
memberships = { library = "editor", parks = "viewer" }
"""


async def test_apply(fedi: Fedi, conn: asyncpg.Connection, tmp_path: Path) -> None:
    path = tmp_path / "city.toml"
    path.write_text(CITY)
    dry = await fedi("apply", str(path), "--dry-run")
    assert dry.status == 0, dry.err
    assert dry.lines == [
        "create department library",
        "create department parks",
        "create staff anna.svensson",
        "create membership anna.svensson library editor",
        "create membership anna.svensson parks viewer",
        "departments: 2 created, 0 updated, 0 unchanged, 0 removed; staff: 1 created, 0 updated, 0 unchanged, "
        "0 removed; memberships: 2 created, 0 updated, 0 unchanged, 0 removed",
        "dry run: nothing was changed",
    ]
    assert await queries.all_local_actors(conn) == []

    applied = await fedi("apply", str(path))
    assert applied.lines[-1] == (
        "applied; 2 key pair(s) pending: `fedi worker` (or `fedi serve`) generates them in the background, "
        "`fedi admin keys generate` does it now"
    ), applied.err
    assert [d.username for d in await queries.list_departments(conn)] == ["library", "parks"]
    assert await conn.fetchval("SELECT count(*) FROM keys") == 0
    assert len(await queries.memberships(conn)) == 2
    listed = await fedi("keys", "list", "parks")
    assert listed.lines == ["department parks has no key yet (one is made when it is first needed)"]

    generated = await fedi("keys", "generate")
    assert generated.lines == ["2 key pair(s) generated"], generated.err
    assert await conn.fetchval("SELECT count(*) FROM keys WHERE retired_at IS NULL") == 2
    assert (await fedi("keys", "generate")).lines == ["0 key pair(s) generated"]

    path.write_text(CITY.replace('area = "Culture"', 'area = "Libraries"'))
    again = await fedi("apply", str(path))
    assert again.lines == [
        "update department library: area",
        "departments: 0 created, 1 updated, 1 unchanged, 0 removed; staff: 0 created, 0 updated, 1 unchanged, "
        "0 removed; memberships: 0 created, 0 updated, 2 unchanged, 0 removed",
        "applied; 0 key pair(s) pending",
    ]

    before = await snapshot(conn)
    path.write_text(
        CITY.replace('username = "parks"', 'username = "Parks"').replace('"editor"', '"boss"') + "[[staff]]\nname = 5\n"
    )
    bad = await fedi("apply", str(path))
    assert bad.status == 2 and bad.out == ""
    assert f"fedi: error: {path}: 4 problems, nothing was changed:" in bad.err
    for problem in (
        "department[2] \"Parks\": invalid department username 'Parks'",
        'staff[1] "anna.svensson": membership in department(s) not in the file: parks; library: invalid role \'boss\'',
        "staff[2]: username is missing",
        "staff[2]: name must be text",
    ):
        assert problem in bad.err
    refused(await fedi("apply", str(tmp_path / "missing.toml")), f"{tmp_path / 'missing.toml'}: 1 problem")
    refused(await fedi("keys", "generate", "--processes", "0"), "--processes must be at least 1 (got 0)")
    assert await snapshot(conn) == before


async def test_apply_waiting_for_keys(fedi: Fedi, conn: asyncpg.Connection, vault: KeyVault, tmp_path: Path) -> None:
    path = tmp_path / "city.toml"
    path.write_text(CITY)
    applied = await fedi("apply", str(path), "--wait-for-keys")
    assert applied.status == 0, applied.err
    assert applied.lines[-1] == "applied; 2 key pair(s) generated"
    for department in await queries.list_departments(conn):
        keys = await keys_of_actor(conn, department.id)
        assert [k.key_id for k in keys] == [f"{department.uri}#main-key"]
        assert keys[0].private_key_encrypted is not None
        assert public_pem(vault.decrypt(bytes(keys[0].private_key_encrypted))) == keys[0].public_key_pem
    assert (await fedi("apply", str(path), "--wait-for-keys")).lines[-1] == "applied; 0 key pair(s) generated"
