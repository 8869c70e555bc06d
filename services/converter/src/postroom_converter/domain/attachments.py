"""Attachments of a mail: which parts are attachments, their names, sizes and hashes.

Why a module of its own: file names arrive RFC 2231-encoded (with or without a charset),
RFC 2047-encoded (against the RFC, but common), as raw 8-bit, or not at all; Outlook wraps
real files in a TNEF `winmail.dat`; forwarded mail arrives as `message/rfc822`. Attachments are
opaque bytes here: nothing is opened or extracted except TNEF, whose container format is the
only thing read (never the files inside it, and never archives such as ZIP).

Decisions:
- A TNEF part (`application/ms-tnef`, `application/vnd.ms-tnef` or a part named
  `winmail.dat`) is *replaced* by the files it contains: `winmail.dat` means nothing to a
  human, and the original stays in the stored raw mail. When it cannot be decoded it is kept
  as-is, with a defect.
- `message/rfc822` (and `message/global`) parts are kept whole, named after their subject
  plus `.eml` (or their own file name when they have one).
- `text/calendar` and any other non-body text part are attachments.
"""

import base64
import binascii
import hashlib
import mimetypes
import quopri
import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from typing import Any

from postroom_converter.domain.charsets import (
    decode_bytes,
    decode_header,
    raw_header_text,
    to_bytes,
)
from postroom_converter.domain.html import normalise_content_id
from postroom_converter.domain.transfer import payload_bytes

__all__ = ["Attachment", "attachments_of", "content_type_of", "filename_of", "is_attachment"]

_MAX_NAME = 255
_NAME_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]+")
_TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})
# Machine-readable report parts: part of a bounce/receipt, read by the bounce parser.
_REPORT_TYPES = frozenset(
    {
        "message/delivery-status",
        "message/global-delivery-status",
        "message/disposition-notification",
        "message/feedback-report",
    }
)
_BODY_TYPES = frozenset({"text/plain", "text/html"})


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    sha256: str
    content_id: str
    inline: bool
    data: bytes = field(default=b"", repr=False, compare=False)


def _readable(part: Message, header: str, hints: tuple[str, ...]) -> Message:
    """`part`, or when its `header` holds raw 8-bit bytes, a stand-in whose header is that
    value decoded (UTF-8, the mail's charsets, a guess: `raw_header_text`): compat32 would
    turn each raw byte into U+FFFD before a parameter is read."""
    for key, value in part.raw_items():
        if key.lower() == header and not str(value).isascii():
            readable = Message()
            readable[header] = raw_header_text(str(value), hints)
            return readable
    return part


def _param(part: Message, name: str, header: str, hints: tuple[str, ...] = ()) -> str | None:
    try:
        value: Any = _readable(part, header, hints).get_param(name, None, header)
    except Exception:
        return None
    if value is None:
        return None
    if isinstance(value, tuple):  # RFC 2231: (charset, language, %-decoded latin-1 text)
        charset, _language, text = value
        try:
            data = str(text).encode("latin-1", "surrogateescape")
        except UnicodeEncodeError:  # already text (the email package replaced bad bytes)
            return decode_header(str(text))
        return decode_bytes(data, charset or None)[0]
    return decode_header(str(value))


def _clean_name(name: str) -> str:
    name = _NAME_CONTROL_RE.sub("", name).strip().strip('"').strip()
    name = re.split(r"[\\/]", name)[-1].strip()  # never a path
    return name[:_MAX_NAME]


def filename_of(part: Message, hints: tuple[str, ...] = ()) -> str:
    """Decoded file name: Content-Disposition filename, else Content-Type name, else '';
    `hints`: the charsets the mail declares, for raw 8-bit names."""
    for name, header in (("filename", "content-disposition"), ("name", "content-type")):
        value = _param(part, name, header, hints)
        if value:
            cleaned = _clean_name(value)
            if cleaned:
                return cleaned
    return ""


def content_type_of(part: Message) -> str:
    """The part's type; an invalid declared type (`Content-Type: BINARY`) other than `text` is
    application/octet-stream here. (The `email` package follows RFC 2045 §5.2 and says
    text/plain, which would put binary data into the body text.)"""
    declared = str(part.get("content-type", "") or "").split(";", 1)[0].strip()
    if declared and declared.count("/") != 1:
        # `text` alone is text/plain, as RFC 2045 §5.2 says and mail clients show it
        return "text/plain" if declared.lower() == "text" else "application/octet-stream"
    return part.get_content_type()


def _disposition(part: Message) -> str:
    value = str(part.get("content-disposition", "") or "")
    return value.split(";", 1)[0].strip().lower()


def is_attachment(part: Message) -> bool:
    """Leaf parts that are not the readable body (nor a machine-readable report part)."""
    ctype = content_type_of(part)
    if ctype in _REPORT_TYPES:
        return False
    if _disposition(part) == "attachment":
        return True
    if ctype in _BODY_TYPES:
        return False
    return not ctype.startswith("multipart/")  # (a multipart left as a leaf: broken, text)


def _default_name(ctype: str) -> str:
    return "attachment" + (mimetypes.guess_extension(ctype, strict=False) or ".bin")


def _make(
    name: str, ctype: str, data: bytes, content_id: str = "", inline: bool = False
) -> Attachment:
    return Attachment(
        filename=name or _default_name(ctype),
        content_type=ctype,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        content_id=content_id,
        inline=inline,
        data=data,
    )


def _payload_bytes(part: Message, defects: list[str]) -> bytes:
    data = payload_bytes(part, defects, "attachment")
    if data is not None:
        return data
    try:
        raw: Any = part.get_payload()
    except Exception:  # 8-bit text with a charset the email package chokes on
        return b""
    return to_bytes(raw) if isinstance(raw, str) else b""


def _transfer_decoded(part: Message, inner: Message) -> bytes | None:
    """An attached message sent base64/qp-encoded (against RFC 2046, but it happens): the
    `email` package parses the encoded text as a header-less message; decode it instead."""
    cte = str(part.get("content-transfer-encoding", "") or "").strip().lower()
    body: Any = inner.get_payload()
    if cte not in ("base64", "quoted-printable") or inner.keys() or not isinstance(body, str):
        return None
    encoded = body.encode("ascii", "ignore")  # base64/qp text is ASCII; the rest is noise
    try:
        if cte == "base64":
            return base64.b64decode(encoded + b"==")
        return quopri.decodestring(encoded)
    except (binascii.Error, ValueError):
        return None


def _message_attachment(part: Message, name: str, defects: list[str]) -> Attachment:
    payload: Any = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    data = b""
    if isinstance(inner, Message):
        decoded = _transfer_decoded(part, inner)
        if decoded is not None:
            data = decoded
            inner = BytesParser(policy=compat32).parsebytes(decoded[:65536], headersonly=True)
        else:
            try:
                data = inner.as_bytes()
            except Exception as exc:
                defects.append(f"attached message not serialisable: {type(exc).__name__}")
                data = to_bytes(str(inner.get_payload()))
        if not name:
            subject = decode_header(str(inner.get("subject", "") or ""))
            subject = " ".join(subject.split()).replace("/", "_").replace("\\", "_")
            name = _clean_name(subject)[: _MAX_NAME - 4] or "message"
            name += ".eml"
    elif isinstance(payload, str):  # message/rfc822 without a parsed body (broken)
        data = to_bytes(payload)
    return _make(name or "message.eml", part.get_content_type(), data)


def _tnef_text(value: Any) -> str:
    if isinstance(value, bytes):
        return decode_bytes(value.split(b"\x00", 1)[0], None)[0]
    return str(value or "").split("\x00", 1)[0]


def _tnef_attachments(data: bytes, defects: list[str]) -> list[Attachment] | None:
    """The files inside a TNEF blob, or None when it is not decodable TNEF."""
    from tnefparse import TNEF  # type: ignore[import-untyped]  # no stubs; lazy: rarely needed

    try:
        tnef: Any = TNEF(data, do_checksum=False)
        found = []
        for item in tnef.attachments:
            name = _clean_name(_tnef_text(item.long_filename()))
            blob = item.data if isinstance(item.data, bytes) else b""
            ctype = mimetypes.guess_type(name, strict=False)[0] or "application/octet-stream"
            found.append(_make(name, ctype, blob))
    except Exception as exc:  # truncated/garbage TNEF: keep the blob itself
        defects.append(f"tnef undecodable: {type(exc).__name__}: {str(exc)[:100]}")
        return None
    return found


def attachments_of(
    part: Message,
    defects: list[str],
    *,
    data: bytes | None = None,
    hints: tuple[str, ...] = (),
) -> list[Attachment]:
    """The attachment(s) a leaf part contributes (a TNEF part may contribute several);
    `data` is the decoded body when it was kept out of the parse (see bigparts), `hints` the
    charsets the mail declares (for raw 8-bit names)."""
    ctype = content_type_of(part)
    name = filename_of(part, hints)
    if ctype in _MESSAGE_TYPES:
        return [_message_attachment(part, name, defects)]
    if data is None:
        data = _payload_bytes(part, defects)
    cid = normalise_content_id(str(part.get("content-id", "") or ""))
    disposition = _disposition(part)
    inline = disposition == "inline" or (not disposition and bool(cid))
    if ctype in _TNEF_TYPES or name.lower() == "winmail.dat":
        unpacked = _tnef_attachments(data, defects)
        if unpacked is not None:
            return unpacked
    return [_make(name, ctype, data, cid, inline)]
