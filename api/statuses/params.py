"""Typed readings of request parameters for the status endpoints, on top of ``api.oauth.params``.

That module turns the query string and a form or JSON body into one dict (``media_ids[]`` becomes
``media_ids``); these helpers read ids, times and focal points from it and answer 422 naming the
parameter when a value cannot be read.
"""

from __future__ import annotations

from datetime import datetime, timezone

from api.errors import Unprocessable
from api.oauth.params import Params, all_params, flag_param, list_param, query_params, text_param

__all__ = [
    "Params", "all_params", "flag_param", "focus_param", "id_param", "ids_param", "list_param", "moment_param",
    "query_params", "text_param",
]


def id_param(params: Params, name: str) -> int | None:
    """One database id, or None when absent or empty."""
    value = text_param(params, name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise Unprocessable(f"{name} must be an id") from None


def ids_param(params: Params, name: str) -> list[int]:
    """A list of database ids (``name[]``), empty values dropped."""
    try:
        return [int(v) for v in list_param(params, name) if v != ""]
    except ValueError:
        raise Unprocessable(f"{name} must be a list of ids") from None


def moment_param(params: Params, name: str) -> datetime | None:
    """An ISO 8601 date and time (UTC when it names no offset), or None when absent or empty."""
    value = text_param(params, name)
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Unprocessable(f"{name} must be an ISO 8601 date and time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def focus_param(value: str | None) -> tuple[float, float] | None:
    """A focal point ``x,y`` with both between -1 and 1, or None when not given."""
    if value in (None, ""):
        return None
    try:
        x, y = (float(part) for part in value.split(","))
    except ValueError:
        raise Unprocessable("focus must be two numbers, x,y, each between -1.0 and 1.0") from None
    if not (-1 <= x <= 1 and -1 <= y <= 1):
        raise Unprocessable("focus must be two numbers, x,y, each between -1.0 and 1.0")
    return x, y
