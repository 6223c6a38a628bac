"""Declarative apply: a TOML file becomes the exact set of departments, staff and memberships."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from actors import queries
from actors.departments import get_department, insert_department
from actors.key_generation import KeyGenerationTask, count_pending, generate_pending_keys, pending_departments
from actors.provisioning import (
    MembershipKey,
    Plan,
    Update,
    apply_plan,
    plan_provisioning,
    render_plan,
)
from actors.provisioning_file import ProvisioningFileError, parse_provisioning_file
from actors.staff import add_staff, grant_membership
from actors.validation import department_input
from fedi.database import connect, create_pool
from fedi.settings import Settings
from fedi.worker import WAKE_CHANNEL, Worker
from keys.keypairs import KeyVault, public_pem
from keys.queries import keys_of_actor
from keys.store import lock_for_generation, store_first_key

CITY = """
[[department]]
username = "library"
display_name = "City Library"
summary = "Daily updates from the city's libraries."
area = "Culture"
avatar_url = "https://city.example/img/library.png"
manually_approves_followers = false
discoverable = true
fields = [ { name = "Opening hours", value = "Mon-Fri 9-18" }, { name = "Contact", value = "library@city.example" } ]

[[department]]
username = "museum"
display_name = "City Museum"
area = "Culture"

[[department]]
username = "parks"

[[staff]]
username = "anna.svensson"
name = "Anna Svensson"
email = "anna@city.example"
memberships = { library = "editor", museum = "viewer" }

[[staff]]
username = "bob"
email = "bob@city.example"
memberships = { parks = "admin" }

[[staff]]
username = "carl"
"""


async def provision(conn: asyncpg.Connection, settings: Settings, content: str) -> Plan:
    """Parse, plan and apply in one transaction, as ``fedi admin apply`` does (keys excepted)."""
    desired = parse_provisioning_file(content)
    async with conn.transaction():
        plan = await plan_provisioning(conn, desired)
        await apply_plan(conn, settings, plan)
    return plan


async def snapshot(conn: asyncpg.Connection) -> list[list[tuple[object, ...]]]:
    """Every row of the tables apply writes, to compare before and after."""
    tables = ("actors", "staff", "memberships", "keys")
    return [[tuple(r) for r in await conn.fetch(f"SELECT * FROM {t} ORDER BY 1, 2")] for t in tables]


async def test_first_apply_creates_everything(conn: asyncpg.Connection, settings: Settings) -> None:
    plan = await provision(conn, settings, CITY)
    assert plan.departments.created == ("library", "museum", "parks")
    assert plan.staff.created == ("anna.svensson", "bob", "carl")
    assert plan.memberships.created == (
        MembershipKey("anna.svensson", "library"),
        MembershipKey("anna.svensson", "museum"),
        MembershipKey("bob", "parks"),
    )
    library = await get_department(conn, "library")
    assert library.uri == "https://city.example/users/library"
    assert library.fields == [
        {"name": "Opening hours", "value": "Mon-Fri 9-18"}, {"name": "Contact", "value": "library@city.example"},
    ]
    assert library.summary_html == "<p>Daily updates from the city's libraries.</p>"
    assert [(m.staff_username, m.department, m.role) for m in await queries.memberships(conn)] == [
        ("anna.svensson", "library", "editor"), ("anna.svensson", "museum", "viewer"), ("bob", "parks", "admin"),
    ]
    assert [(s.username, s.display_name, s.email) for s in await queries.list_staff(conn)] == [
        ("anna.svensson", "Anna Svensson", "anna@city.example"), ("bob", "", "bob@city.example"), ("carl", "", None),
    ]


async def test_second_apply_changes_nothing(conn: asyncpg.Connection, settings: Settings) -> None:
    await provision(conn, settings, CITY)
    before = await snapshot(conn)
    plan = await provision(conn, settings, CITY)
    assert not plan.has_changes
    assert plan.departments.unchanged == ("library", "museum", "parks")
    assert len(plan.staff.unchanged) == 3 and len(plan.memberships.unchanged) == 3
    assert await snapshot(conn) == before
    assert list(render_plan(plan)) == [
        "departments: 0 created, 0 updated, 3 unchanged, 0 removed; "
        "staff: 0 created, 0 updated, 3 unchanged, 0 removed; "
        "memberships: 0 created, 0 updated, 3 unchanged, 0 removed"
    ]


async def test_changes_are_reported_with_their_attributes(conn: asyncpg.Connection, settings: Settings) -> None:
    await provision(conn, settings, CITY)
    changed = (
        CITY.replace('display_name = "City Museum"', 'display_name = "Museum of the City"\ndiscoverable = false')
        .replace('"anna@city.example"', '"swap"')
        .replace('"bob@city.example"', '"anna@city.example"')
        .replace('"swap"', '"bob@city.example"')
        .replace('museum = "viewer"', 'museum = "admin"')
    )
    plan = await provision(conn, settings, changed)
    assert plan.departments.updated == (Update("museum", ("display_name", "discoverable")),)
    assert plan.staff.updated == (Update("anna.svensson", ("email",)), Update("bob", ("email",)))
    assert plan.memberships.updated == (Update(MembershipKey("anna.svensson", "museum"), ("role",)),)
    assert list(render_plan(plan))[:4] == [
        "update department museum: display_name, discoverable",
        "update staff anna.svensson: email",
        "update staff bob: email",
        "update membership anna.svensson museum: role viewer -> admin",
    ]
    museum = await get_department(conn, "museum")
    assert (museum.display_name, museum.discoverable, museum.area) == ("Museum of the City", False, "Culture")
    emails = {s.username: s.email for s in await queries.list_staff(conn)}
    assert emails == {"anna.svensson": "bob@city.example", "bob": "anna@city.example", "carl": None}
    assert not (await provision(conn, settings, changed)).has_changes


async def test_entries_left_out_are_removed(conn: asyncpg.Connection, settings: Settings) -> None:
    await provision(conn, settings, CITY)
    parks = await get_department(conn, "parks")
    smaller = CITY.split("[[department]]\nusername = \"parks\"")[0] + (
        '[[staff]]\nusername = "anna.svensson"\nname = "Anna Svensson"\nemail = "anna@city.example"\n'
        'memberships = { library = "editor" }\n'
    )
    plan = await provision(conn, settings, smaller)
    assert plan.departments.removed == ("parks",)
    assert plan.staff.removed == ("bob", "carl")
    assert plan.memberships.removed == (MembershipKey("anna.svensson", "museum"), MembershipKey("bob", "parks"))
    lines = list(render_plan(plan))
    assert "remove department parks" in lines and "remove membership bob parks admin" in lines
    assert lines[-1].startswith("departments: 0 created, 0 updated, 2 unchanged, 1 removed; staff: 0 created")
    assert [d.username for d in await queries.list_departments(conn)] == ["library", "museum"]
    deleted = await queries.local_actor_by_username(conn, "parks", include_deleted=True)
    assert deleted is not None and deleted.id == parks.id and deleted.deleted_at is not None
    assert [s.username for s in await queries.list_staff(conn)] == ["anna.svensson"]
    assert [(m.department, m.role) for m in await queries.memberships(conn)] == [("library", "editor")]


async def test_username_of_a_deleted_department_is_refused(conn: asyncpg.Connection, settings: Settings) -> None:
    await provision(conn, settings, CITY)
    without_parks = CITY.replace('[[department]]\nusername = "parks"\n', "").replace(
        'memberships = { parks = "admin" }', ""
    )
    await provision(conn, settings, without_parks)
    before = await snapshot(conn)
    with pytest.raises(ProvisioningFileError) as caught:
        await provision(conn, settings, CITY)
    assert caught.value.problems == (
        "department[3] \"parks\": username 'parks' is not available: it belongs to a department that was "
        "deleted, and usernames are never given out again",
    )
    assert await snapshot(conn) == before


async def test_departments_and_staff_made_by_hand_are_adopted(conn: asyncpg.Connection, settings: Settings) -> None:
    await insert_department(conn, settings, department_input("library", {"display_name": "Library"}))
    await add_staff(conn, "carl")
    await grant_membership(conn, "carl", "library", "admin")
    plan = await provision(conn, settings, CITY)
    assert plan.departments.updated[0].name == "library"
    assert plan.staff.unchanged == ("carl",)
    assert plan.memberships.removed == (MembershipKey("carl", "library"),)


BAD_FILES = {
    "toml syntax": (
        '[[department]]\nusername = "library"\narea = "Culture\n[[staff]]\nusername = "anna"\n',
        ["not valid TOML: Illegal character '\\n' (at line 3, column 16)"],
    ),
    "many problems": (
        """
        colour = "red"
        [[department]]
        username = "library"
        display_name = 5
        avatar_url = "ftp://city.example/a.png"
        [[department]]
        username = "li brary"
        [[department]]
        username = "library"
        [[department]]
        area = "Culture"
        [[department]]
        username = "parks"
        motto = "Green"
        [[staff]]
        username = "anna"
        email = "anna@city.example"
        memberships = { library = "boss", musem = "viewer" }
        [[staff]]
        username = "bob"
        email = "ANNA@city.example"
        phone = "123"
        [[staff]]
        username = "bob"
        memberships = ["library"]
        [[staff]]
        username = "Carl"
        email = 5
        [[staff]]
        name = "Nobody"
        """,
        [
            "unknown top-level key(s) colour",
            'department[1] "library": display_name must be text',
            'department[1] "library": avatar_url must be an absolute https:// URL',
            "department[2] \"li brary\": invalid department username 'li brary'",
            'department[3] "library": the same username as department[1] "library"',
            "department[4]: username is missing",
            'department[5] "parks": unknown department setting(s): motto',
            'staff[1] "anna": membership in department(s) not in the file: musem; library: invalid role \'boss\'',
            'staff[2] "bob": unknown key(s) phone',
            "staff[2] \"bob\": e-mail address 'ANNA@city.example' is also given to staff[1] \"anna\"",
            'staff[3] "bob": the same username as staff[2] "bob"',
            'staff[3] "bob": memberships must be a table',
            "staff[4] \"Carl\": invalid staff username 'Carl'",
            'staff[4] "Carl": email must be text',
            "staff[5]: username is missing",
        ],
    ),
    "not tables": ('department = "library"\nstaff = [1, 2]\n', [
        "department must be an array of tables", "staff must be an array of tables",
    ]),
    "wrong types": (
        '[[department]]\nusername = 7\n[[department]]\nusername = "parks"\nfields = "none"\n'
        "manually_approves_followers = 1\n",
        [
            "department[1]: username must be text",
            'department[2] "parks": fields must be a list',
            'department[2] "parks": manually_approves_followers must be true or false',
        ],
    ),
}


@pytest.mark.parametrize("case", BAD_FILES)
async def test_bad_files_report_every_problem_and_change_nothing(
    conn: asyncpg.Connection, settings: Settings, case: str
) -> None:
    await provision(conn, settings, CITY)
    before = await snapshot(conn)
    content, expected = BAD_FILES[case]
    with pytest.raises(ProvisioningFileError) as caught:
        await provision(conn, settings, "\n".join(line.strip() for line in content.splitlines()))
    problems = caught.value.problems
    assert len(problems) == len(expected), problems
    for problem, start in zip(problems, expected):
        assert start in problem
    assert f"{len(expected)} problem" in str(caught.value)
    assert await snapshot(conn) == before


async def test_plan_alone_writes_nothing(conn: asyncpg.Connection, settings: Settings) -> None:
    before = await snapshot(conn)
    async with conn.transaction():
        plan = await plan_provisioning(conn, parse_provisioning_file(CITY))
    assert plan.departments.created == ("library", "museum", "parks")
    assert await snapshot(conn) == before


async def test_apply_leaves_keys_to_the_worker_task(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, database_url: str
) -> None:
    await provision(conn, settings, CITY)
    assert await conn.fetchval("SELECT count(*) FROM keys") == 0
    assert await count_pending(conn) == 3
    pool = await create_pool(database_url, max_size=2)
    try:
        task = KeyGenerationTask(pool, vault)
        assert await Worker(pool, [task]).run_until_idle() == 3
        assert await Worker(pool, [task]).run_until_idle() == 0
    finally:
        await pool.close()
    assert await count_pending(conn) == 0
    library = await get_department(conn, "library")
    keys = await keys_of_actor(conn, library.id)
    assert [k.key_id for k in keys] == ["https://city.example/users/library#main-key"]
    assert keys[0].private_key_encrypted is not None
    assert public_pem(vault.decrypt(bytes(keys[0].private_key_encrypted))) == keys[0].public_key_pem


async def test_committing_new_departments_wakes_the_worker(
    conn: asyncpg.Connection, settings: Settings, database_url: str
) -> None:
    listener = await connect(database_url)
    woken: list[str] = []
    try:
        await listener.add_listener(WAKE_CHANNEL, lambda *args: woken.append(args[2]))
        await provision(conn, settings, '[[department]]\nusername = "library"\n')
        await listener.execute("SELECT 1")  # notifications arrive with the next message
        assert woken == [WAKE_CHANNEL]
        await provision(conn, settings, '[[department]]\nusername = "library"\narea = "Culture"\n')
        await listener.execute("SELECT 1")
        assert woken == [WAKE_CHANNEL]  # no new department, nothing to wake the worker for
    finally:
        await listener.close()


async def test_keys_generated_now_wait_for_those_the_worker_is_making(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault, database_url: str
) -> None:
    await provision(conn, settings, CITY)
    museum = await get_department(conn, "museum")
    worker_side = await connect(database_url)
    try:
        async with worker_side.transaction():  # the worker is generating the museum's key
            assert await lock_for_generation(worker_side, [museum.id]) == {museum.id}
            assert [p.username for p in await pending_departments(conn)] == ["library", "parks"]
            made = asyncio.create_task(generate_pending_keys(conn, vault))
            while await count_pending(worker_side) > 1:
                await asyncio.sleep(0.05)
            assert not made.done()  # the museum's key is awaited, not generated twice
            await store_first_key(worker_side, museum.id, museum.uri, vault.generate())
        assert await made == 2
    finally:
        await worker_side.close()
    assert await count_pending(conn) == 0
    assert await conn.fetchval("SELECT count(*) FROM keys") == 3
    assert await generate_pending_keys(conn, vault) == 0


async def test_deleted_departments_get_no_key(conn: asyncpg.Connection, settings: Settings, vault: KeyVault) -> None:
    await provision(conn, settings, CITY)
    await provision(conn, settings, '[[department]]\nusername = "parks"\n')
    assert [p.username for p in await pending_departments(conn)] == ["parks"]
    assert await generate_pending_keys(conn, vault) == 1
    assert await conn.fetchval("SELECT count(*) FROM keys") == 1


async def test_apply_uses_a_few_statements_whatever_the_size(conn: asyncpg.Connection, settings: Settings) -> None:
    departments = "".join(f'[[department]]\nusername = "dept_{i}"\narea = "Area {i % 5}"\n' for i in range(40))
    staff = "".join(
        f'[[staff]]\nusername = "user.{i}"\nemail = "user{i}@city.example"\n'
        f'memberships = {{ dept_{i % 40} = "editor", dept_{(i + 1) % 40} = "viewer" }}\n'
        for i in range(400)
    )
    statements: list[str] = []

    def record(logged: object) -> None:
        statements.append(getattr(logged, "query"))

    conn.add_query_logger(record)
    try:
        plan = await provision(conn, settings, departments + staff)
        first = len(statements)
        changed = departments.replace('"dept_3"\narea = "Area 3"', '"dept_3"\narea = "Area 9"') + staff.replace(
            'user7@', 'seven@'
        )
        second = await provision(conn, settings, changed)
    finally:
        conn.remove_query_logger(record)
    assert plan.staff.counts()["created"] == 400 and plan.memberships.counts()["created"] == 800
    assert second.departments.updated == (Update("dept_3", ("area",)),)
    assert second.staff.updated == (Update("user.7", ("email",)),)
    assert first <= 16 and len(statements) - first <= 10
