"""The provisioning file: every department, staff member and membership, described in TOML.

    [[department]]                       # one table per department
    username = "library"                 # required; the other keys are optional and default as
    display_name = "City Library"        # for ``fedi admin department create``: summary, area,
    fields = [ { name = "Contact", value = "library@city.example" } ]   # avatar_url, header_url,
                                         # manually_approves_followers, discoverable
    [[staff]]                            # one table per staff member
    username = "anna.svensson"           # required
    name = "Anna Svensson"               # optional
    email = "anna@city.example"          # optional, unique
    memberships = { library = "editor" } # department -> admin | editor | viewer; optional

The file is the complete desired state. It is checked as a whole before anything is written and
every problem is reported at once, each after its entry, counted from 1 in file order:
``department[3] "li brary": invalid department username ...``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from actors.errors import ValidationError
from actors.staff import MAX_STAFF_NAME
from actors.validation import DepartmentInput, department_input, email, role, staff_username, text

STAFF_KEYS = frozenset({"username", "name", "email", "memberships"})
TOP_LEVEL_KEYS = ("department", "staff")


class ProvisioningFileError(ValidationError):
    """The file cannot be applied; ``problems`` lists every reason, each naming its entry."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{source}: {count}, nothing was changed:\n" + "\n".join(f"  {p}" for p in problems))


@dataclass(frozen=True)
class StaffEntry:
    """A staff member as the file describes them; memberships are (department, role), sorted."""

    username: str
    name: str = ""
    email: str | None = None
    memberships: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DesiredState:
    """Everything the file asks for, validated."""

    departments: tuple[DepartmentInput, ...]
    staff: tuple[StaffEntry, ...]


def read_provisioning_file(path: Path) -> DesiredState:
    """Read and validate a provisioning file."""
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProvisioningFileError(str(path), [f"cannot read the file: {exc}"]) from None
    return parse_provisioning_file(content, str(path))


def parse_provisioning_file(content: str, source: str = "provisioning file") -> DesiredState:
    """Validate a provisioning file's text; raise ProvisioningFileError listing every problem."""
    try:
        data = tomllib.loads(content)
    except tomllib.TOMLDecodeError as exc:
        raise ProvisioningFileError(source, [f"not valid TOML: {exc}"]) from None
    problems: list[str] = []
    unknown = sorted(set(data) - set(TOP_LEVEL_KEYS))
    if unknown:
        problems.append(f"unknown top-level key(s) {', '.join(unknown)}: use [[department]] and [[staff]] tables")
    department_tables = _tables(data, "department", problems)
    staff_tables = _tables(data, "staff", problems)
    named = {str(t.get("username", "")).strip() for t in department_tables}
    departments = _departments(department_tables, problems)
    staff = _staff(staff_tables, named, problems)
    if problems:
        raise ProvisioningFileError(source, problems)
    return DesiredState(tuple(departments), tuple(staff))


def _tables(data: dict[str, Any], kind: str, problems: list[str]) -> list[dict[str, Any]]:
    """The ``[[kind]]`` tables; anything else in their place is a problem."""
    value = data.get(kind, [])
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        problems.append(f"{kind} must be an array of tables: write each entry under [[{kind}]]")
        return []
    return value


def _label(kind: str, position: int, table: dict[str, Any]) -> str:
    """How a problem names its entry: ``department[3] "library"``."""
    username = table.get("username")
    return f"{kind}[{position}]" + (f' "{username}"' if isinstance(username, str) else "")


def _username(table: dict[str, Any], label: str, problems: list[str]) -> str | None:
    """The entry's username as text, or None after recording why it is missing."""
    value = table.get("username")
    if value is None:
        problems.append(f"{label}: username is missing")
        return None
    if not isinstance(value, str):
        problems.append(f"{label}: username must be text")
        return None
    return value


def _departments(tables: list[dict[str, Any]], problems: list[str]) -> list[DepartmentInput]:
    """Validate each department entry, and that no username appears twice."""
    seen: dict[str, str] = {}
    valid = []
    for position, table in enumerate(tables, start=1):
        label = _label("department", position, table)
        username = _username(table, label, problems)
        if username is None:
            continue
        duplicate = _first_use(seen, username, label)
        if duplicate:
            problems.append(f"{label}: the same username as {duplicate}")
        settings = {k: v for k, v in table.items() if k != "username"}
        try:
            department = department_input(username, settings)
        except ValidationError:
            problems.extend(f"{label}: {p}" for p in _department_problems(username, settings))
            continue
        if not duplicate:
            valid.append(department)
    return valid


def _first_use(seen: dict[str, str], value: str, label: str) -> str | None:
    """The label of the entry that used ``value`` (compared ignoring case) first, recording this use."""
    key = value.strip().lower()
    if key in seen:
        return seen[key]
    seen[key] = label
    return None


def _department_problems(username: str, settings: dict[str, Any]) -> list[str]:
    """Every problem of an invalid department entry, not only the first one found."""
    found = []
    for mapping in [{}] + [{k: v} for k, v in settings.items()]:
        try:
            department_input(username, mapping)
        except ValidationError as exc:
            if str(exc) not in found:
                found.append(str(exc))
    return found


def _staff(tables: list[dict[str, Any]], departments: set[str], problems: list[str]) -> list[StaffEntry]:
    """Validate each staff entry, that usernames and e-mail addresses are unique, and their memberships."""
    seen: dict[str, str] = {}
    seen_emails: dict[str, str] = {}
    valid = []
    for position, table in enumerate(tables, start=1):
        label = _label("staff", position, table)
        before = len(problems)
        unknown = sorted(set(table) - STAFF_KEYS)
        if unknown:
            problems.append(f"{label}: unknown key(s) {', '.join(unknown)}: use {', '.join(sorted(STAFF_KEYS))}")
        username = _username(table, label, problems)
        duplicate = _first_use(seen, username, label) if username is not None else None
        if duplicate:
            problems.append(f"{label}: the same username as {duplicate}")
        address = table.get("email")
        duplicate = _first_use(seen_emails, address, label) if isinstance(address, str) and address else None
        if duplicate:
            problems.append(f"{label}: e-mail address {address!r} is also given to {duplicate}")
        entry = _staff_entry(table, username, label, departments, problems)
        if entry is not None and len(problems) == before:
            valid.append(entry)
    return valid


def _staff_entry(
    table: dict[str, Any], username: str | None, label: str, departments: set[str], problems: list[str]
) -> StaffEntry | None:
    """One staff entry, recording a problem for each invalid value."""
    checks = {
        "username": lambda: staff_username(username) if username is not None else None,
        "name": lambda: text("name", table.get("name"), MAX_STAFF_NAME),
        "email": lambda: email(_text_or_none("email", table.get("email"))),
        "memberships": lambda: _memberships(table.get("memberships"), departments),
    }
    values: dict[str, Any] = {}
    for key, check in checks.items():
        try:
            values[key] = check()
        except ValidationError as exc:
            problems.append(f"{label}: {exc}")
    if len(values) < len(checks) or values["username"] is None:
        return None
    return StaffEntry(values["username"], values["name"], values["email"], values["memberships"])


def _text_or_none(name: str, value: Any) -> Any:
    """Refuse non-text values that ``str()`` would quietly accept."""
    if value is not None and not isinstance(value, str):
        raise ValidationError(f"{name} must be text")
    return value


def _memberships(value: Any, departments: set[str]) -> tuple[tuple[str, str], ...]:
    """A ``{ department = "role" }`` table naming departments of the file."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise ValidationError('memberships must be a table of department = "role", e.g. { library = "editor" }')
    found = []
    absent = sorted(d for d in value if d not in departments)
    if absent:
        found.append(f"membership in department(s) not in the file: {', '.join(absent)}")
    pairs = []
    for department, given in sorted(value.items()):
        try:
            pairs.append((department, role(given)))
        except ValidationError as exc:
            found.append(f"{department}: {exc}")
    if found:
        raise ValidationError("; ".join(found))
    return tuple(pairs)
