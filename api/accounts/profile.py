"""``update_credentials`` parameters turned into department changes for ``actors.departments.update_department``.

Mastodon's names map onto the department's: ``note`` is the summary, ``locked`` is
``manually_approves_followers``, ``fields_attributes`` are the profile fields (blank pairs dropped,
as Mastodon drops them). What fedi does not let a client change is refused with 422 rather than
ignored: images (an administrator sets their URLs), the bot flag, and posting defaults other than
fedi's own.
"""

from __future__ import annotations

from typing import Any

from api.accounts.entities import DEFAULT_PRIVACY, DEFAULT_SENSITIVE
from api.errors import Unprocessable
from api.oauth.params import Params, flag_param, text_param


def _fields(value: Any) -> list[dict[str, str]]:
    """``fields_attributes`` as a list, or as a dict keyed by position (form brackets), in order."""
    if isinstance(value, dict):
        try:
            items = [value[key] for key in sorted(value, key=int)]
        except ValueError:
            raise Unprocessable("fields_attributes must be indexed by position") from None
    elif isinstance(value, list):
        items = value
    else:
        raise Unprocessable("fields_attributes must be a list of name and value pairs")
    fields = []
    for item in items:
        if not isinstance(item, dict):
            raise Unprocessable("each of fields_attributes needs a name and a value")
        name, text = text_param(item, "name") or "", text_param(item, "value") or ""
        if name.strip() or text.strip():
            fields.append({"name": name, "value": text})
    return fields


def _check_source(source: Any) -> None:
    if not isinstance(source, dict):
        raise Unprocessable("source must hold privacy, sensitive and language")
    privacy = text_param(source, "privacy")
    if privacy not in (None, DEFAULT_PRIVACY):
        raise Unprocessable(f"fedi posts are {DEFAULT_PRIVACY} unless each post says otherwise; "
                            "the default visibility cannot be changed")
    if flag_param(source, "sensitive") not in (None, DEFAULT_SENSITIVE):
        raise Unprocessable("the default for sensitive media cannot be changed")
    if text_param(source, "language") not in (None, ""):
        raise Unprocessable("a default posting language cannot be set; give it with each post")


def profile_changes(params: Params) -> dict[str, Any]:
    """The department properties to change; Unprocessable (422) for what cannot be changed this way."""
    for image in ("avatar", "header"):
        if params.get(image) not in (None, ""):
            raise Unprocessable(f"the {image} image is set by an administrator (fedi admin department update)")
    if flag_param(params, "bot"):
        raise Unprocessable("a department account is an organization, not a bot")
    if "source" in params:
        _check_source(params["source"])
    changes: dict[str, Any] = {}
    for name, column in (("display_name", "display_name"), ("note", "summary")):
        value = text_param(params, name)
        if value is not None:
            changes[column] = value
    for name, column in (("locked", "manually_approves_followers"), ("discoverable", "discoverable")):
        flag = flag_param(params, name)
        if flag is not None:
            changes[column] = flag
    if params.get("fields_attributes") is not None:
        changes["fields"] = _fields(params["fields_attributes"])
    return changes
