"""Walking a parsed MIME tree without recursion, and decoding one part's body to text.

Iterative on purpose: how deep a mail nests costs no stack (the depth cap in `limits.py` is
the guard, not the interpreter's recursion limit). Decoding never raises: what the `email`
package cannot decode is recorded in `defects` and read through the charset fallback chain
(`charsets.py`).
"""

from collections.abc import Iterator
from email.message import Message
from typing import Any

from postroom_converter.domain.charsets import decode_bytes, to_bytes

__all__ = ["all_parts", "decoded_body", "leaves"]


def all_parts(msg: Message) -> Iterator[Message]:
    """Every entity, containers and those inside attached messages too; not recursive."""
    stack: list[Message] = [msg]
    while stack:
        part = stack.pop()
        yield part
        if part.is_multipart():  # (get_payload() on 8-bit text can raise; on lists it cannot)
            payload: Any = part.get_payload()
            stack.extend(p for p in reversed(payload) if isinstance(p, Message))


def leaves(msg: Message) -> Iterator[tuple[Message, int | None]]:
    """Leaf parts of the mail itself (attached messages are leaves) with the id of the
    innermost multipart/alternative they belong to."""
    stack: list[tuple[Message, int | None]] = [(msg, None)]
    while stack:
        part, group = stack.pop()
        if part.get_content_maintype() == "multipart" and part.is_multipart():
            if part.get_content_subtype() == "alternative":
                group = id(part)
            payload: Any = part.get_payload()
            stack.extend((p, group) for p in reversed(payload) if isinstance(p, Message))
        else:
            yield part, group


def decoded_body(part: Message, defects: list[str]) -> str:
    try:
        data: Any = part.get_payload(decode=True)
    except Exception as exc:
        defects.append(f"body decode: {type(exc).__name__}")
        data = None
    if not isinstance(data, bytes):
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
