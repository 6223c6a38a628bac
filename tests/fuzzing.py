"""Hypothesis profiles for the property-based (fuzz) tests, their shared strategies, and a case count.

``default`` runs in ``make test``: a small, derandomized sample (the same cases on every run).
``fuzz`` (``HYPOTHESIS_PROFILE=fuzz``, ``make fuzz``) explores fresh random cases, 1,000 per
test, over 20,000 in all. The profile is loaded when a fuzz module imports this one. Loaded as
a pytest plugin (``-p tests.fuzzing``, as ``make fuzz`` does) it also prints how many cases each
property test ran and the total.
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st

settings.register_profile(
    "default", max_examples=25, deadline=None, derandomize=True, database=None, print_blob=True
)
settings.register_profile(
    "fuzz", max_examples=1000, deadline=None, derandomize=False, database=None, print_blob=True
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# Text that stresses parsers: anything, ASCII with controls, quotes and separators, and huge runs.
huge_text = st.integers(1000, 50_000).flatmap(
    lambda n: st.sampled_from(["a", '"', "\\", ",", "=", " ", "é", "\x00"]).map(lambda c: c * n)
)
nasty_text = st.one_of(
    st.text(),
    st.text(st.characters(max_codepoint=0x7F)),
    st.text(st.sampled_from('"\\,;=:()?<>{}[] \t\r\n\x00\x7fabc123-_*')),
    huge_text,
)

_cases: Counter[str] = Counter()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Count every case a Hypothesis test runs (generated, explicit and shrinking ones)."""
    handle = getattr(getattr(item, "obj", None), "hypothesis", None)
    if handle is None:
        yield
        return
    inner: Callable[..., Any] = handle.inner_test

    @functools.wraps(inner)
    def counted(*args: Any, **kwargs: Any) -> Any:
        _cases[item.nodeid] += 1
        return inner(*args, **kwargs)

    handle.inner_test = counted
    try:
        yield
    finally:
        handle.inner_test = inner


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print how many cases the property tests ran, per test and in total."""
    if not _cases:
        return
    terminalreporter.section(f"hypothesis ({settings.get_current_profile_name()} profile)")
    for nodeid, count in sorted(_cases.items()):
        terminalreporter.write_line(f"{count:>8}  {nodeid}")
    terminalreporter.write_line(f"{sum(_cases.values()):>8}  cases in {len(_cases)} property tests")
