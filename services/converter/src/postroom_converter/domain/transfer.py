"""A part's body with its Content-Transfer-Encoding undone, also when the encoding is damaged.

Why a module of its own: the `email` package gives up on two kinds of damage that mail clients
read through, and then hands back the still-encoded text, which would be stored as the file:
- base64 one character longer than a multiple of four (a truncated or padded-by-hand body):
  the last, incomplete character carries fewer than eight bits, so it is dropped;
- uuencode without its `begin` line (gateways that strip it): the lines are decoded anyway,
  up to `end`.
Everything else is the `email` package's own decoding.
"""

import base64
import binascii
import re
from email import errors
from email.message import Message
from typing import Any

from postroom_converter.domain.charsets import to_bytes

__all__ = ["lenient_base64", "payload_bytes"]

_NOT_BASE64_RE = re.compile(rb"[^A-Za-z0-9+/]")
_UU_ENCODINGS = frozenset({"x-uuencode", "uuencode", "uue", "x-uue"})
_UU_BEGIN_RE = re.compile(rb"^begin [0-7]+ ", re.M)


def lenient_base64(data: bytes | memoryview) -> bytes:
    """Base64 decoded whatever its padding, line breaks or one stray last character."""
    clean = _NOT_BASE64_RE.sub(b"", data)
    clean = clean[: len(clean) - 1] if len(clean) % 4 == 1 else clean
    return base64.b64decode(clean + b"=" * (-len(clean) % 4))


def _uu_lines(data: bytes) -> bytes:
    """uuencoded lines (with or without `begin`) up to `end`; a line that is not uuencode
    is skipped, as mail clients do."""
    out = []
    lines = data.splitlines()
    begin = _UU_BEGIN_RE.search(data)
    if begin is not None:
        lines = data[begin.end() :].splitlines()[1:]
    for line in lines:
        if line.strip() == b"end":
            break
        if not line.strip():
            continue
        try:
            out.append(binascii.a2b_uu(line))
        except binascii.Error:  # the email package's own workaround: trailing garbage
            nbytes = (((line[0] - 32) & 63) * 4 + 5) // 3
            try:
                out.append(binascii.a2b_uu(line[:nbytes]))
            except binascii.Error:
                continue
    return b"".join(out)


def _raw(part: Message) -> bytes:
    payload: Any = part.get_payload()
    return to_bytes(payload) if isinstance(payload, str) else b""


def payload_bytes(part: Message, defects: list[str], what: str) -> bytes | None:
    """The decoded body of a leaf part; None when there is none to decode (a multipart)."""
    cte = str(part.get("content-transfer-encoding", "") or "").strip().lower()
    if cte in _UU_ENCODINGS:
        raw = _raw(part)
        if _UU_BEGIN_RE.search(raw) is None:
            defects.append("uuencoded body without a begin line")
        return _uu_lines(raw)
    seen = len(part.defects)
    try:
        data: Any = part.get_payload(decode=True)
    except Exception as exc:
        defects.append(f"{what} decode: {type(exc).__name__}")
        return None
    if cte == "base64" and any(
        isinstance(d, errors.InvalidBase64LengthDefect) for d in part.defects[seen:]
    ):
        try:
            data = lenient_base64(_raw(part))
        except (binascii.Error, ValueError):
            return data if isinstance(data, bytes) else None
    return data if isinstance(data, bytes) else None
