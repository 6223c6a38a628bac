"""Property-based tests of the HTML sanitizer (``fedi.html``) and the plain-text renderer (``fedi.text``).

Whatever remote HTML arrives — arbitrary text or generated markup full of scripts, event handlers
and disguised ``javascript:`` URLs — what is stored and shown has no script, style, frame, event
handler or dangerous URL, sanitizing it again changes nothing, and plain text keeps its words.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

from hypothesis import example, given
from hypothesis import strategies as st

from fedi.html import ALLOWED_TAGS, html_to_text, sanitize_html
from fedi.text import plain_to_html
from tests.fuzzing import nasty_text

DANGEROUS_TAGS = (
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "img", "svg", "math", "form",
    "input", "button", "textarea", "select", "base", "meta", "link", "body", "html", "head", "template",
    "noscript", "noembed", "xmp", "plaintext", "title", "video", "audio", "source", "marquee", "details",
)
ATTRIBUTES = (
    "href", "src", "style", "class", "title", "onclick", "onerror", "OnLoad", "onmouseover", "ONFOCUS",
    "formaction", "xlink:href", "srcdoc", "data", "action", "background", "lowsrc", "dynsrc", "poster",
    "translate", "start", "value", "rel", "target", "id", "name",
)
URLS = (
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
    "java\nscript:alert(1)", "\x01javascript:alert(1)", "&#106;avascript:alert(1)", "&#x6A;avascript:alert(1)",
    "&#0000106&#0000097vascript:alert(1)", "jav&#x09;ascript:alert(1)", "javascript&colon;alert(1)",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "DATA:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)", "VBScript:msgbox(1)", "livescript:alert(1)", "//evil.example/x.js",
    "https://city.example/ok", "http://example.org/?a=1&b=2", "mailto:someone@example.org", "#top", "",
)
UNSAFE_SCHEMES = ("javascript:", "data:", "vbscript:", "livescript:")
URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "xlink:href", "background", "poster", "srcdoc"})


def _cased(word: str) -> st.SearchStrategy[str]:
    """``word`` in a random mix of upper and lower case."""
    return st.lists(st.booleans(), min_size=len(word), max_size=len(word)).map(
        lambda flips: "".join(c.upper() if up else c.lower() for c, up in zip(word, flips))
    )


def _quoted(value: str) -> st.SearchStrategy[str]:
    return st.sampled_from(['"{}"', "'{}'", "{}"]).map(lambda form: form.format(value))


attribute = st.builds(
    lambda name, value, space: f"{space}{name}={value}",
    st.sampled_from(ATTRIBUTES).flatmap(_cased),
    st.one_of(st.sampled_from(URLS), st.text(max_size=20)).flatmap(_quoted),
    st.sampled_from([" ", "  ", "\t", "\n", "/"]),
)
tag_name = st.one_of(st.sampled_from(DANGEROUS_TAGS), st.sampled_from(sorted(ALLOWED_TAGS))).flatmap(_cased)
opening_tag = st.builds(
    lambda name, attributes, end: f"<{name}{''.join(attributes)}{end}", tag_name, st.lists(attribute, max_size=4),
    st.sampled_from([">", "/>", " >", ""]),
)
closing_tag = tag_name.map(lambda name: f"</{name}>")
markup_noise = st.sampled_from([
    "<!--", "-->", "<!-- <script>alert(1)</script> -->", "<![CDATA[<script>alert(1)</script>]]>", "<", ">", "</",
    "&", "&lt;script&gt;", "&#60;script&#62;", "<!DOCTYPE html>", "<?xml version='1.0'?>", "\x00", "<scr<script>ipt>",
    "<svg><script>alert(1)</script></svg>", "<math><mtext><style><img src=x onerror=alert(1)>",
    "<a href=javascript:alert(1)>x</a>", "<style>@import 'x';</style>", "<iframe srcdoc='<script>'></iframe>",
])
html_ish = st.lists(
    st.one_of(opening_tag, closing_tag, markup_noise, st.text(max_size=30)), max_size=25
).map("".join)
any_html = st.one_of(nasty_text, html_ish)


class _Elements(HTMLParser):
    """The tags and attributes of a fragment, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def elements(fragment: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """Every start tag of ``fragment`` with its attributes (values with entities decoded)."""
    parser = _Elements()
    parser.feed(fragment)
    parser.close()
    return parser.tags


def scheme_of(url: str) -> str:
    """The URL's text as a browser reads the scheme: entities decoded, controls and whitespace dropped."""
    return re.sub(r"[\x00-\x20\x7f]", "", html.unescape(url)).lower()


def assert_safe(output: str) -> None:
    """No script, style or frame; only allowed tags; no event handler; no script-running URL."""
    lowered = output.lower()
    for forbidden in ("<script", "<style", "<iframe", "<object", "<embed", "<svg", "<math"):
        assert forbidden not in lowered, output
    for tag, attributes in elements(output):
        assert tag in ALLOWED_TAGS, output
        for name, value in attributes:
            assert not name.startswith("on"), output
            assert name not in ("style", "srcdoc", "src"), output
            if name in URL_ATTRIBUTES and value is not None:
                assert not scheme_of(value).startswith(UNSAFE_SCHEMES), output


@given(any_html)
@example('<a href="&#106;avascript:alert(1)" onclick="x()">hi</a><script>alert(1)</script>')
@example("<ScRiPt>alert(1)</sCrIpT><STYLE>p{}</STYLE><IFRAME src=//x></IFRAME>")
@example('<a href="java\tscript:alert(1)">x</a><img src=x onerror=alert(1)>')
def test_fuzz_sanitized_html_has_no_script_style_handler_or_unsafe_url(value: str) -> None:
    """Whatever comes in, the sanitized HTML cannot run code or restyle the page."""
    assert_safe(sanitize_html(value))


@given(any_html)
@example("<H1><C><H1>")  # a heading inside a heading: the parser moves it out on the next pass
def test_fuzz_sanitizing_twice_changes_nothing(value: str) -> None:
    """Sanitized HTML is a fixed point: stored posts read back and cleaned again stay the same."""
    once = sanitize_html(value)
    assert sanitize_html(once) == once


plain_text = st.text(st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\n\t "))


@given(plain_text)
@example("5 < 6 & 7 > 3, \"quoted\" and 'single'")
@example("<script>alert(1)</script>")
def test_fuzz_escaped_plain_text_survives_sanitizing(text: str) -> None:
    """Text that is escaped and sanitized reads back exactly as written."""
    assert html.unescape(sanitize_html(html.escape(text))) == text


@given(plain_text | st.builds(lambda a, b: f"{a} https://{b}.example/path?q=1 {a}", plain_text, st.from_regex(r"[a-z]{1,10}", fullmatch=True)))
@example("see javascript:alert(1) and https://city.example/x?a=<b>&c=\"d\"")
@example("line one\r\nline two\n\n<p onclick=x>para</p>")
def test_fuzz_plain_text_renders_safely_and_keeps_its_words(text: str) -> None:
    """A staff member's text becomes safe HTML with the same words, links only to http(s)."""
    rendered = plain_to_html(text)
    assert_safe(rendered)
    assert sanitize_html(rendered) == sanitize_html(sanitize_html(rendered))
    for tag, attributes in elements(rendered):
        assert tag in ("p", "br", "a")
        hrefs = [value for name, value in attributes if name == "href"]
        assert all(value and value.startswith(("http://", "https://")) for value in hrefs)
    assert html_to_text(rendered).split() == text.split()
