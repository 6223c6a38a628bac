"""Plain-text tables for admin commands: one line per row, columns aligned, easy to grep."""

from __future__ import annotations

from collections.abc import Iterator, Sequence


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> Iterator[str]:
    """The header line and one line per row, each column padded to its widest cell."""
    cells = [[str(c) for c in headers]] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(headers))]
    for line in cells:
        yield "  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip()


def _cell(value: object) -> str:
    """A value as one line of text; empty and missing values show as ``-``."""
    text = "" if value is None else " ".join(str(value).split())
    return text or "-"
