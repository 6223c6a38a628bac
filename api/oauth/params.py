"""Request parameters as Mastodon clients send them: query string, form (urlencoded or multipart) or JSON.

Rails-style brackets are unfolded, so ``fields_attributes[0][name]=x`` and ``id[]=1&id[]=2`` arrive
as ``{"fields_attributes": {"0": {"name": "x"}}}`` and ``{"id": ["1", "2"]}``: the shapes a JSON body
gives. A repeated plain name keeps its last value, as Rails does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from json import JSONDecodeError
from typing import Any

from starlette.requests import Request

from api.errors import Unprocessable

Params = dict[str, Any]

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_FORM_FIELDS = 200
MAX_FORM_FILES = 4
_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
TRUE_WORDS = frozenset({"1", "true", "t", "on", "yes"})
FALSE_WORDS = frozenset({"0", "false", "f", "off", "no", ""})


def unfold(items: Iterable[tuple[str, Any]]) -> Params:
    """Nest ``name[key][]``-style pairs into dicts and lists."""
    result: Params = {}
    for name, value in items:
        match = _KEY_RE.match(name)
        if match is None:
            continue
        keys = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        _place(result, keys, value)
    return result


def _place(target: Params, keys: list[str], value: Any) -> None:
    head, rest = keys[0], keys[1:]
    if not rest:
        target[head] = value
    elif rest == [""]:
        current = target.get(head)
        target[head] = [*current, value] if isinstance(current, list) else [value]
    else:
        child = target.get(head)
        if not isinstance(child, dict):
            child = target[head] = {}
        _place(child, rest, value)


def query_params(request: Request) -> Params:
    """The query string, unfolded."""
    return unfold(request.query_params.multi_items())


async def body_params(request: Request) -> Params:
    """The request body (JSON object or form), unfolded; an empty body is no parameters."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        try:
            data = await request.json()
        except (JSONDecodeError, UnicodeDecodeError):
            raise Unprocessable("the JSON body is malformed") from None
        if not isinstance(data, dict):
            raise Unprocessable("the JSON body must be an object")
        return data
    if content_type in FORM_TYPES:
        async with request.form(max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS) as form:
            return unfold(form.multi_items())
    if await request.body():
        raise Unprocessable(f"send parameters as JSON or as a form, not {content_type or 'untyped data'}")
    return {}


async def all_params(request: Request) -> Params:
    """Query string and body together (the body wins), as Rails merges them."""
    return {**query_params(request), **(await body_params(request))}


def text_param(params: Params, name: str) -> str | None:
    """A scalar parameter as text (numbers from JSON included), or None when absent."""
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    raise Unprocessable(f"{name} must be a single value")


def flag_param(params: Params, name: str) -> bool | None:
    """A boolean parameter (``true``/``1``/``on`` or ``false``/``0``…), or None when absent."""
    value = params.get(name)
    if value is None or isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise Unprocessable(f"{name} must be true or false")


def list_param(params: Params, name: str) -> list[str]:
    """A parameter that may be repeated (``name[]``), given once, or absent."""
    value = params.get(name)
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    if not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in values):
        raise Unprocessable(f"{name} must be a list of values")
    return [str(v) for v in values]
