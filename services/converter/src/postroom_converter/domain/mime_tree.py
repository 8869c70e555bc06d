"""Walking a parsed MIME tree without recursion, and decoding one part's body to text.

Iterative on purpose: how deep a mail nests costs no stack (the depth cap in `limits.py` is
the guard, not the interpreter's recursion limit). Decoding never raises: what the `email`
package cannot decode is recorded in `defects` and read through the charset fallback chain
(`charsets.py`).
"""

import contextlib
import re
from collections.abc import Iterator
from email.message import Message
from typing import Any

from postroom_converter.domain.charsets import decode_bytes, normalise_charset, to_bytes
from postroom_converter.domain.transfer import payload_bytes

__all__ = ["all_parts", "declared_charsets", "decoded_body", "leaves"]

_ENCODED_WORD_CHARSET_RE = re.compile(r"=\?([^?\s*]{1,75})[^?\s]*\?[bBqQ]\?")
_SAYS_NOTHING = frozenset({"us-ascii", "ascii", "utf-8", "utf8"})


def all_parts(msg: Message) -> Iterator[Message]:
    """Every entity, containers and those inside attached messages too; not recursive."""
    stack: list[Message] = [msg]
    while stack:
        part = stack.pop()
        yield part
        if part.is_multipart():  # (get_payload() on 8-bit text can raise; on lists it cannot)
            payload: Any = part.get_payload()
            stack.extend(p for p in reversed(payload) if isinstance(p, Message))


Branch = tuple[int, int]  # (id of the outermost multipart/alternative, index of its child)


def leaves(msg: Message) -> Iterator[tuple[Message, Branch | None]]:
    """Leaf parts of the mail itself (attached messages are leaves), in order, each with the
    outermost multipart/alternative it belongs to and which of its alternatives it is in."""
    stack: list[tuple[Message, Branch | None]] = [(msg, None)]
    while stack:
        part, branch = stack.pop()
        if part.get_content_maintype() == "multipart" and part.is_multipart():
            payload: Any = part.get_payload()
            children = [p for p in payload if isinstance(p, Message)]
            if branch is None and part.get_content_subtype() == "alternative":
                stack.extend((p, (id(part), i)) for i, p in reversed(list(enumerate(children))))
            else:
                stack.extend((p, branch) for p in reversed(children))
        else:
            yield part, branch


def declared_charsets(msg: Message, header_values: list[str]) -> tuple[str, ...]:
    """The charsets (Python codec names) a mail declares: its parts' charset parameters and
    its encoded words', in order; the hints for its raw 8-bit headers (see charset_guess)."""
    names: list[str] = []
    for part in all_parts(msg):
        with contextlib.suppress(Exception):  # a malformed parameter list
            names.append(str(part.get_param("charset", "") or ""))
    for value in header_values:
        if "=?" in value:
            names += _ENCODED_WORD_CHARSET_RE.findall(value)
    codecs = (normalise_charset(n) for n in names if n.lower().strip('"') not in _SAYS_NOTHING)
    return tuple(dict.fromkeys(c for c in codecs if c is not None))


def decoded_body(part: Message, defects: list[str]) -> str:
    data = payload_bytes(part, defects, "body")
    if data is None:
        try:
            raw: Any = part.get_payload()
        except Exception:  # 8-bit text with a charset the email package chokes on
            raw = None
        data = to_bytes(raw) if isinstance(raw, str) else b""
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    text, clean = decode_bytes(data, charset)
    if not clean:
        defects.append(f"charset fallback: declared {charset or 'none'!s}"[:120])
    return text.replace("\r\n", "\n").replace("\r", "\n")
