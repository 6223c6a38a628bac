"""The rules for department and staff input, shared by the CLI, the admin API and ``apply``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

from actors.errors import ValidationError

DEPARTMENT_USERNAME_RE = re.compile(r"^[a-z0-9_]{1,30}$")
STAFF_USERNAME_RE = re.compile(r"^[a-z0-9_][a-z0-9_.-]{0,63}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ROLES = ("admin", "editor", "viewer")
# Names that would read as the server speaking, or that clients treat specially.
RESERVED_USERNAMES = frozenset(
    {"admin", "administrator", "root", "support", "help", "mod", "moderator", "webmaster", "postmaster",
     "abuse", "security", "hostmaster", "noreply", "no_reply", "actor", "instance", "inbox", "api"}
)
MAX_DISPLAY_NAME = 100
MAX_SUMMARY = 5000
MAX_AREA = 100
MAX_FIELDS = 16
MAX_FIELD_NAME = 255
MAX_FIELD_VALUE = 2047


@dataclass(frozen=True)
class ProfileField:
    """A profile metadata field (shown by Mastodon as a table row: opening hours, contact…)."""

    name: str
    value: str


@dataclass(frozen=True)
class DepartmentInput:
    """A department's editable properties, validated."""

    username: str
    display_name: str = ""
    summary: str = ""
    area: str = ""
    avatar_url: str | None = None
    header_url: str | None = None
    fields: tuple[ProfileField, ...] = ()
    manually_approves_followers: bool = False
    discoverable: bool = True


DEPARTMENT_KEYS = frozenset(DepartmentInput.__dataclass_fields__) - {"username"}


def department_username(value: Any) -> str:
    """A valid local department username (lowercase letters, digits, underscore; at most 30)."""
    if not isinstance(value, str):
        raise ValidationError(f"department username must be text, got {value!r}")
    name = value.strip()
    if not DEPARTMENT_USERNAME_RE.match(name):
        raise ValidationError(
            f"invalid department username {name!r}: use 1-30 lowercase letters, digits or underscores"
        )
    if name in RESERVED_USERNAMES:
        raise ValidationError(f"department username {name!r} is reserved")
    return name


def staff_username(value: Any) -> str:
    """A valid staff login name."""
    if not isinstance(value, str):
        raise ValidationError(f"staff username must be text, got {value!r}")
    name = value.strip()
    if not STAFF_USERNAME_RE.match(name):
        raise ValidationError(
            f"invalid staff username {name!r}: use 1-64 lowercase letters, digits, '.', '-' or '_'"
        )
    return name


def email(value: Any) -> str | None:
    """An e-mail address or None."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if not EMAIL_RE.match(text) or len(text) > 254:
        raise ValidationError(f"invalid e-mail address {text!r}")
    return text


def role(value: Any) -> str:
    """One of admin, editor, viewer."""
    if value not in ROLES:
        raise ValidationError(f"invalid role {value!r}: use one of {', '.join(ROLES)}")
    return str(value)


def text(name: str, value: Any, limit: int) -> str:
    """A string of at most ``limit`` characters."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be text")
    if len(value) > limit:
        raise ValidationError(f"{name} is too long ({len(value)} characters, at most {limit})")
    return value.strip()


def image_url(name: str, value: Any) -> str | None:
    """An absolute http(s) URL of an image, or None."""
    if value is None or value == "":
        return None
    url = str(value).strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise ValidationError(f"{name} must be an absolute https:// URL, got {url!r}")
    return url


def flag(name: str, value: Any) -> bool:
    """A true/false setting."""
    if not isinstance(value, bool):
        raise ValidationError(f"{name} must be true or false")
    return value


def profile_fields(value: Any) -> tuple[ProfileField, ...]:
    """A list of {name, value} pairs, in order."""
    if value is None:
        return ()
    if not isinstance(value, (list, tuple)):
        raise ValidationError("fields must be a list of {name, value} pairs")
    if len(value) > MAX_FIELDS:
        raise ValidationError(f"too many profile fields ({len(value)}, at most {MAX_FIELDS})")
    out = []
    for item in value:
        if isinstance(item, ProfileField):
            item = {"name": item.name, "value": item.value}
        if not isinstance(item, Mapping) or set(item) != {"name", "value"}:
            raise ValidationError("each profile field needs exactly a name and a value")
        name = text("field name", item["name"], MAX_FIELD_NAME)
        if not name:
            raise ValidationError("a profile field's name is empty")
        out.append(ProfileField(name, text(f"field {name!r}", item["value"], MAX_FIELD_VALUE)))
    return tuple(out)


def department_input(username: Any, data: Mapping[str, Any]) -> DepartmentInput:
    """Validate a department's username and properties; unknown keys are an error."""
    unknown = sorted(set(data) - DEPARTMENT_KEYS)
    if unknown:
        raise ValidationError(f"unknown department setting(s): {', '.join(unknown)}")
    return DepartmentInput(
        username=department_username(username),
        display_name=text("display_name", data.get("display_name"), MAX_DISPLAY_NAME),
        summary=text("summary", data.get("summary"), MAX_SUMMARY),
        area=text("area", data.get("area"), MAX_AREA),
        avatar_url=image_url("avatar_url", data.get("avatar_url")),
        header_url=image_url("header_url", data.get("header_url")),
        fields=profile_fields(data.get("fields")),
        manually_approves_followers=flag(
            "manually_approves_followers", data.get("manually_approves_followers", False)
        ),
        discoverable=flag("discoverable", data.get("discoverable", True)),
    )
