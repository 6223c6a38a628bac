"""Plain text written by people turned into the small HTML subset fediverse servers display."""

from __future__ import annotations

import html
import re

URL_RE = re.compile(r"\bhttps?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]", re.IGNORECASE)


def linkify(text: str) -> str:
    """Escape text and turn http(s) URLs into links that open outside and carry no referrer."""
    out = []
    last = 0
    for match in URL_RE.finditer(text):
        out.append(html.escape(text[last : match.start()], quote=False))
        url = match.group(0)
        out.append(
            f'<a href="{html.escape(url)}" rel="nofollow noopener noreferrer" target="_blank">'
            f"{html.escape(url, quote=False)}</a>"
        )
        last = match.end()
    out.append(html.escape(text[last:], quote=False))
    return "".join(out)


def plain_to_html(text: str) -> str:
    """Paragraphs on blank lines, ``<br>`` on single newlines, links made clickable, everything escaped."""
    text = text.replace("\r\n", "\n").strip()
    if not text:
        return ""
    paragraphs = re.split(r"\n\s*\n", text)
    return "".join("<p>" + "<br>".join(linkify(line) for line in p.split("\n")) + "</p>" for p in paragraphs)
