"""Remote HTML is reduced to what Mastodon displays; nothing executable survives."""

from __future__ import annotations

import pytest

from fedi.html import html_to_text, sanitize_html


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<a href="data:text/html;base64,PHNjcmlwdD4=">x</a>',
        '<a href="vbscript:msgbox(1)">x</a>',
        '<p style="background:url(javascript:alert(1))">x</p>',
        '<iframe src="https://evil.example"></iframe>',
        '<svg onload="alert(1)"></svg>',
        "<p onmouseover='alert(1)'>x</p>",
        '<form action="https://evil.example"><input name=a></form>',
        "<style>body{display:none}</style>",
        '<a href="  javascript:alert(1)">x</a>',
        '<a href="JaVaScRiPt:alert(1)">x</a>',
    ],
)
def test_nothing_executable_survives(hostile: str) -> None:
    clean = sanitize_html(f"<p>before</p>{hostile}<p>after</p>").lower()
    for bad in ("<script", "onerror", "javascript:", "data:", "vbscript:", "<iframe", "<svg", "onload", "onmouseover", "style", "<form", "<input"):
        assert bad not in clean
    assert "before" in clean and "after" in clean


def test_mastodon_markup_is_kept() -> None:
    mention = (
        '<p><span class="h-card"><a href="https://city.example/users/library" class="u-url mention">'
        '@<span>library</span></a></span> thanks! <a href="https://peer.example/tags/books" class="mention hashtag" rel="tag">'
        '#<span>books</span></a> <a href="https://example.com/page"><span class="invisible">https://</span>'
        '<span class="">example.com/page</span></a></p>'
    )
    clean = sanitize_html(mention)
    assert 'class="h-card"' in clean and 'class="u-url mention"' in clean
    assert 'class="mention hashtag"' in clean and 'class="invisible"' in clean
    assert 'href="https://city.example/users/library"' in clean
    assert 'rel="nofollow noopener noreferrer"' in clean


def test_unknown_classes_are_dropped() -> None:
    assert sanitize_html('<span class="invisible evil">x</span>') == '<span class="invisible">x</span>'


def test_html_to_text() -> None:
    assert html_to_text("<p>one &amp; two</p><p>three<br>four</p>") == "one & two\nthree\nfour"
