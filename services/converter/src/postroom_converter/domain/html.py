"""Mail HTML made safe to show, and a plain-text rendering of it.

Why a module of its own: HTML from mail is untrusted. It is sanitised with an allow-list
(`nh3`), remote content (http/https/data images, tracking pixels) is dropped so that opening a
mail never tells the sender, and `cid:` references stay only when they name an attachment of
the same mail (they are rendered from the stored attachment later). Mail without a text part
still needs a description, hence `html_to_text`.

Nesting is capped before the parser sees it: html5ever (behind nh3) takes time quadratic in
the depth of open elements (servo/html5ever#788), so 20,000 nested `<div>`s (100 KB) cost 2 s
a pass. HTML nested deeper than `MAX_DEPTH` is hostile or broken; it is reduced to its text.
"""

import html as stdlib_html
import re
from collections.abc import Collection, Iterator
from urllib.parse import unquote

__all__ = [
    "CID_PREFIX",
    "MAX_DEPTH",
    "html_to_text",
    "nesting_depth",
    "normalise_content_id",
    "sanitise_html",
]

MAX_DEPTH = 256
# Elements that never hold others, or whose end tag may be left out (the parser closes them
# itself): they do not deepen the tree, so they do not count.
_VOID = "head area base br col embed hr img input link meta param source track wbr"
_OPTIONAL_END = "p li dt dd td th tr thead tbody tfoot colgroup option optgroup rt rp html body"
_FLAT = frozenset(f"{_VOID} {_OPTIONAL_END}".split())

CID_PREFIX = "cid:"
_URL_SCHEMES = {"http", "https", "mailto", "cid"}
# Attributes that make the browser fetch something by itself.
_FETCHING = {"src", "background", "poster", "srcset", "lowsrc", "dynsrc"}

# Tags that survive into the text rendering (as line breaks / list markers / cell gaps).
_TEXT_TAGS = {"br", "p", "div", "tr", "td", "th", "li", "table", "blockquote", "hr"}
_TEXT_TAGS |= {f"h{level}" for level in range(1, 7)}
_BREAK_RE = re.compile(r"</?(?:br|p|div|tr|h[1-6]|table|blockquote|hr)\b[^>]*>")
_ITEM_RE = re.compile(r"<li\b[^>]*>")
_CELL_RE = re.compile(r"</t[dh]>")
_TAG_RE = re.compile(r"<[^>]*>")
_WHITESPACE_RE = re.compile(r"\s+")
_SPACES_RE = re.compile(r"[ \t\r\f\v\xa0]+")
_BLANK_LINES_RE = re.compile(r"\n{3,}")  # lines are stripped first: blank lines are bare


def normalise_content_id(value: str) -> str:
    """`<abc@x>` / `cid:abc%40x` → `abc@x` (what `Attachment.content_id` holds)."""
    value = value.strip()
    if value[:4].lower() == CID_PREFIX:
        value = unquote(value[4:])
    return value.strip().strip("<>").strip()


def _tags(source: str) -> Iterator[tuple[int, int]]:
    """(start, end) of every `<...>` in one pass: a `<` with no `>` after it ends the scan
    (no later tag can close), so the work is linear, unlike `<[^>]*>` on a run of `<`."""
    pos = 0
    while (start := source.find("<", pos)) != -1:
        end = source.find(">", start)
        if end == -1:
            return
        yield start, end + 1
        pos = end + 1


def _tag_name(tag: str) -> str:
    name = tag[1:].lstrip("/")
    cut = next((i for i, ch in enumerate(name) if not (ch.isalnum() or ch == "-")), len(name))
    return name[:cut].lower()


def nesting_depth(source: str) -> int:
    """The deepest nesting of elements in `source` (a linear estimate, as a parser sees it)."""
    depth = deepest = 0
    for start, end in _tags(source):
        tag = source[start:end]
        name = _tag_name(tag)
        if not name or name in _FLAT or tag.endswith("/>"):
            continue
        if tag[1] == "/":
            depth = max(0, depth - 1)
        else:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def _shallow(source: str) -> str:
    """`source`, or for HTML nested deeper than MAX_DEPTH its text alone (escaped), which
    every parser reads in linear time."""
    if nesting_depth(source) <= MAX_DEPTH:
        return source
    parts, pos = [], 0
    for start, end in _tags(source):
        parts.append(source[pos:start])
        parts.append(" ")
        pos = end
    parts.append(source[pos:])
    return stdlib_html.escape(stdlib_html.unescape("".join(parts)), quote=False)


def sanitise_html(source: str, content_ids: Collection[str]) -> str:
    """Allow-listed HTML without remote content; `cid:` kept only for known content ids."""
    source = _shallow(source)
    known = {cid.lower() for cid in content_ids}

    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        if attr in _FETCHING:
            if value.strip()[:4].lower() == CID_PREFIX:
                cid = normalise_content_id(value)
                return CID_PREFIX + cid if cid.lower() in known else None
            return None  # remote (http/https), data: and anything else: blocked
        if value.strip()[:4].lower() == CID_PREFIX:
            return None
        return value

    # nh3 (about 1.5 MB resident) loads with the first HTML cleaned, not with the converter
    # or the API (tests/unit/test_lean_imports.py); analysis workers load it at their start.
    import nh3

    return nh3.clean(source, url_schemes=_URL_SCHEMES, attribute_filter=attribute_filter)


def html_to_text(source: str) -> str:
    """A readable plain-text rendering: blocks become lines, tags go, entities are decoded.

    The HTML is first reduced by `nh3` (a real, linear-time HTML parser) to a few structural
    tags without attributes, scripts, styles or comments; regular expressions on raw HTML
    (unclosed `<style>`, `<!--`) can take quadratic time.
    """
    import nh3  # see sanitise_html

    text = nh3.clean(
        _shallow(source),
        tags=_TEXT_TAGS,
        clean_content_tags={"script", "style", "title", "template"},
        attributes={},
        link_rel=None,
    )
    text = _WHITESPACE_RE.sub(" ", text)  # source line breaks are not breaks in HTML
    text = _ITEM_RE.sub("\n- ", text)
    text = _CELL_RE.sub(" ", text)
    text = _BREAK_RE.sub("\n", text)
    text = _TAG_RE.sub("", text)
    text = stdlib_html.unescape(text)
    lines = [_SPACES_RE.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES_RE.sub("\n\n", "\n".join(lines)).strip()
