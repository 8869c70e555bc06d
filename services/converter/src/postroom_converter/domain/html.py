"""Mail HTML made safe to show, and a plain-text rendering of it.

Why a module of its own: HTML from mail is untrusted. It is sanitised with an allow-list
(`nh3`), remote content (http/https/data images, tracking pixels) is dropped so that opening a
mail never tells the sender, and `cid:` references stay only when they name an attachment of
the same mail (they are rendered from the stored attachment later). Mail without a text part
still needs a description, hence `html_to_text`.
"""

import html as stdlib_html
import re
from collections.abc import Collection
from urllib.parse import unquote

import nh3

__all__ = ["CID_PREFIX", "html_to_text", "normalise_content_id", "sanitise_html"]

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


def sanitise_html(source: str, content_ids: Collection[str]) -> str:
    """Allow-listed HTML without remote content; `cid:` kept only for known content ids."""
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

    return nh3.clean(source, url_schemes=_URL_SCHEMES, attribute_filter=attribute_filter)


def html_to_text(source: str) -> str:
    """A readable plain-text rendering: blocks become lines, tags go, entities are decoded.

    The HTML is first reduced by `nh3` (a real, linear-time HTML parser) to a few structural
    tags without attributes, scripts, styles or comments; regular expressions on raw HTML
    (unclosed `<style>`, `<!--`) can take quadratic time.
    """
    text = nh3.clean(
        source,
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
