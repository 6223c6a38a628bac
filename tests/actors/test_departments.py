"""Departments: create with a key, validated updates, soft delete keeping the username taken."""

from __future__ import annotations

import asyncpg
import pytest

from actors import queries
from actors.departments import (
    create_department,
    delete_department,
    department_properties,
    get_department,
    insert_department,
    update_department,
)
from actors.errors import Conflict, NotFound, ValidationError
from actors.staff import add_staff, grant_membership
from actors.validation import DepartmentInput, ProfileField, department_input
from fedi.settings import Settings
from keys.keypairs import KeyVault
from keys.queries import keys_of_actor

LIBRARY = {
    "display_name": "City Library",
    "summary": "Daily updates from https://city.example/library",
    "area": "Culture",
    "avatar_url": "https://city.example/img/library.png",
    "fields": [{"name": "Opening hours", "value": "Mon-Fri 9-18"}],
    "discoverable": False,
}


async def library(conn: asyncpg.Connection, settings: Settings) -> queries.LocalActor:
    """The library department, stored without a key."""
    return await insert_department(conn, settings, department_input("library", LIBRARY))


async def test_create_stores_properties_and_first_key(
    conn: asyncpg.Connection, settings: Settings, vault: KeyVault
) -> None:
    department = await create_department(conn, settings, vault, department_input("library", LIBRARY))
    assert department.uri == "https://city.example/users/library"
    assert department.display_name == "City Library"
    assert department.fields == [{"name": "Opening hours", "value": "Mon-Fri 9-18"}]
    assert department.discoverable is False and department.manually_approves_followers is False
    assert '<a href="https://city.example/library"' in department.summary_html
    keys = await keys_of_actor(conn, department.id)
    assert [(k.key_id, k.retired) for k in keys] == [("https://city.example/users/library#main-key", False)]


async def test_properties_round_trip(conn: asyncpg.Connection, settings: Settings) -> None:
    data = department_input("library", LIBRARY)
    assert department_properties(await library(conn, settings)) == data


@pytest.mark.parametrize(
    ("username", "data", "message"),
    [
        ("li brary", {}, "invalid department username 'li brary'"),
        ("Library", {}, "invalid department username 'Library'"),
        ("x" * 31, {}, "invalid department username"),
        ("admin", {}, "reserved"),
        ("library", {"avatar_url": "ftp://x/y.png"}, "avatar_url must be an absolute https:// URL"),
        ("library", {"display_name": "x" * 101}, "display_name is too long"),
        ("library", {"discoverable": "yes"}, "discoverable must be true or false"),
        ("library", {"fields": [{"name": "a"}]}, "exactly a name and a value"),
        ("library", {"colour": "red"}, "unknown department setting(s): colour"),
    ],
)
def test_invalid_input_is_refused(username: str, data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        department_input(username, data)
    assert message in str(caught.value)


async def test_username_is_unique_ignoring_case(conn: asyncpg.Connection, settings: Settings) -> None:
    await library(conn, settings)
    with pytest.raises(Conflict, match="'LIBRARY' is taken"):
        await insert_department(conn, settings, DepartmentInput(username="LIBRARY"))
    assert (await get_department(conn, "LiBrArY")).username == "library"


async def test_unknown_department_is_not_found(conn: asyncpg.Connection) -> None:
    with pytest.raises(NotFound, match="no department named 'museum'"):
        await get_department(conn, "museum")
    with pytest.raises(NotFound):
        await update_department(conn, "museum", {"area": "Culture"})
    with pytest.raises(NotFound):
        await delete_department(conn, "museum")


async def test_update_changes_given_properties_and_keeps_the_others(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    before = await library(conn, settings)
    after = await update_department(conn, "library", {"summary": "New text", "manually_approves_followers": True})
    assert after.summary == "New text" and after.summary_html == "<p>New text</p>"
    assert after.manually_approves_followers is True
    assert (after.display_name, after.area, after.fields) == (before.display_name, before.area, before.fields)
    assert after.updated_at > before.updated_at


async def test_invalid_update_changes_nothing(conn: asyncpg.Connection, settings: Settings) -> None:
    before = await library(conn, settings)
    for changes in ({"header_url": "not a url"}, {"fields": [{"name": "", "value": "x"}] }, {"username": "museum"}):
        with pytest.raises(ValidationError):
            await update_department(conn, "library", changes)
    assert await get_department(conn, "library") == before


async def test_update_can_clear_optional_properties(conn: asyncpg.Connection, settings: Settings) -> None:
    await library(conn, settings)
    after = await update_department(conn, "library", {"avatar_url": "", "fields": []})
    assert after.avatar_url is None and after.fields == []
    assert department_properties(after).fields == ()


async def test_delete_is_soft_and_keeps_the_username_taken(conn: asyncpg.Connection, settings: Settings) -> None:
    department = await library(conn, settings)
    await add_staff(conn, "anna")
    await grant_membership(conn, "anna", "library", "editor")
    await delete_department(conn, "library")
    with pytest.raises(NotFound):
        await get_department(conn, "library")
    assert await queries.list_departments(conn) == []
    assert await queries.memberships(conn) == []
    stored = await queries.local_actor_by_username(conn, "library", include_deleted=True)
    assert stored is not None and stored.id == department.id and stored.deleted_at is not None
    with pytest.raises(Conflict, match="taken"):
        await insert_department(conn, settings, department_input("library", {}))


async def test_fields_keep_their_order(conn: asyncpg.Connection, settings: Settings) -> None:
    fields = [{"name": n, "value": v} for n, v in (("Z", "1"), ("A", "2"), ("M", "3"))]
    department = await insert_department(conn, settings, department_input("parks", {"fields": fields}))
    expected = (ProfileField("Z", "1"), ProfileField("A", "2"), ProfileField("M", "3"))
    assert department_properties(department).fields == expected
