"""Sanitizing remote HTML (nh3, the Ammonia sanitizer) down to what Mastodon itself displays."""

from __future__ import annotations

import html
import re

ALLOWED_TAGS = {
    "p", "br", "span", "a", "del", "s", "pre", "code", "em", "strong", "b", "i", "u",
    "ul", "ol", "li", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "sub", "sup",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title", "translate"}, "span": {"translate"}, "ol": {"start", "reversed"}, "li": {"value"}}
# ("class" is governed by ALLOWED_CLASSES below; nh3 refuses it in both places.)
ALLOWED_SCHEMES = {"http", "https", "mailto", "xmpp", "gemini", "magnet"}
# Microformat classes Mastodon keeps (mentions, hashtags, link shortening); all others are dropped.
ALLOWED_CLASSES = {
    "a": {"mention", "hashtag", "u-url", "h-card", "status-link", "unhandled-link"},
    "span": {"h-card", "invisible", "ellipsis", "quote-inline", "mention", "hashtag"},
}
_TAG_RE = re.compile(r"<[^>]*>")


def sanitize_html(value: str) -> str:
    """Remote HTML made safe to store and show: no scripts, styles, event handlers or unsafe URLs."""
    import nh3  # here, not at start-up: its library takes 1.4 MB in processes that never sanitize

    def clean(html: str) -> str:
        return nh3.clean(
            html,
            tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            url_schemes=ALLOWED_SCHEMES,
            link_rel="nofollow noopener noreferrer",
            allowed_classes=ALLOWED_CLASSES,
            strip_comments=True,
        )

    cleaned = clean(value)
    # Markup the HTML parser rearranges (a heading inside a heading, say) can come out in a form that
    # parses differently again; a second pass gives what later passes keep, so stored HTML is stable.
    return cleaned if "<" not in cleaned else clean(cleaned)


def html_to_text(value: str) -> str:
    """The visible text of a fragment (for previews and search), paragraphs on separate lines."""
    value = re.sub(r"(?i)<br\s*/?>|</p>\s*<p[^>]*>", "\n", value)
    return html.unescape(_TAG_RE.sub("", value)).strip()
