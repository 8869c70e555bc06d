"""Reading a raw mail into the fields the converter needs, without ever raising on bad input.

Malformed mail still yields a `ParsedMail` (with `defects` saying what was wrong). Only mail over
a cap is refused: `MailTooLarge` (size) or `MailRejected` (header size, MIME depth, part count),
each with a reason for the quarantine. Caps and their values live in `limits.py`.

Speed and robustness (docs/decisions.md, parsing): the tree is parsed with `policy.compat32`, which
is several times faster than `policy.default` and stores header values raw, so no quadratic header
parsing happens inside the `email` package. Header values are then decoded here
(`charsets.decode_header`: RFC 2047, raw 8-bit, unknown charsets), bodies through the charset
chain in `charsets.py`, HTML through `html.py`, attachments through `attachments.py`.
Measured (one core, Python 3.13): ~5,800 small text/plain mails/s and ~3,000
multipart/alternative (text + HTML) mails/s for parse_mail; policy.default alone parses ~1,700/s.
"""

import email
import email.utils
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from email.policy import Compat32
from typing import Any

from postroom_converter.domain.attachments import Attachment
from postroom_converter.domain.bigparts import hollow
from postroom_converter.domain.bodies import contents_of
from postroom_converter.domain.charsets import decode_header, raw_header_text
from postroom_converter.domain.header_block import repair_header_block
from postroom_converter.domain.html import sanitise_html
from postroom_converter.domain.limits import (
    MAX_DEPTH,
    MAX_MAIL_BYTES,
    MAX_PARTS,
    MailRejected,
    MailTooLarge,
    check_raw,
    defuse_param_headers,
)
from postroom_converter.domain.mime_tree import all_parts, declared_charsets
from postroom_converter.domain.reply_text import extract_reply
from postroom_converter.domain.senders import Address, addresses, sender_of

__all__ = [
    "MAX_MAIL_BYTES",
    "Address",
    "Attachment",
    "MailRejected",
    "MailTooLarge",
    "ParsedMail",
    "parse_mail",
]

_MSGID_RE = re.compile(r"<[^<>\s]{1,900}>")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_WS_RE = re.compile(r"\s+")
_UTF8_BOM = b"\xef\xbb\xbf"
_MAX_TEXT = 200_000
_MAX_HTML = 2_000_000
_MAX_SUBJECT = 1000
_MAX_DEFECTS = 100


_FOLD_RE = re.compile(r"\r?\n(?=[ \t])")


class _UnfoldingCompat32(Compat32):
    """compat32 (fast, raw values) but header values read back unfolded, as RFC 5322 says:
    otherwise a folded `boundary="simple\r\n boundary"` never matches its delimiter lines."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if "\n" in value:
            value = _FOLD_RE.sub("", value)
        return super().header_fetch_parse(name, value)


_POLICY = _UnfoldingCompat32()


@dataclass(frozen=True)
class ParsedMail:
    message_id: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    subject: str
    sender: Address | None
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    date: datetime | None
    text: str
    return_path_null: bool
    headers: dict[str, tuple[str, ...]] = field(repr=False)
    content_type: str = "text/plain"
    report_type: str = ""
    defects: tuple[str, ...] = ()
    html: str | None = None  # sanitised: allow-listed tags, no remote content
    attachments: tuple[Attachment, ...] = ()
    reply_text: str = ""
    tree: EmailMessage | None = field(default=None, repr=False, compare=False)

    def header(self, name: str) -> str:
        """First value of header `name` (case-insensitive), or ''."""
        values = self.headers.get(name.lower(), ())
        return values[0] if values else ""


def _text(value: str) -> str:
    return _CONTROL_RE.sub("", value).strip()


def _date(value: str) -> datetime | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except Exception:  # TypeError/ValueError/IndexError/OverflowError on garbage dates
        return None


def _parse_tree(raw: bytes, defects: list[str]) -> EmailMessage:
    try:
        msg = email.message_from_bytes(raw, _class=EmailMessage, policy=_POLICY)
    except RecursionError:  # the depth scan is the guard; this is the safety net
        raise MailRejected(f"MIME nesting too deep for the parser (cap {MAX_DEPTH})") from None
    except Exception as exc:  # should not happen: the feed parser records defects instead
        defects.append(f"unparseable: {type(exc).__name__}")
        msg = EmailMessage(policy=_POLICY)
    assert isinstance(msg, EmailMessage)
    return msg


def _header_values(msg: Message, hints: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    values: dict[str, list[str]] = {}
    for key, value in msg.raw_items():
        name = _text(raw_header_text(str(key))).lower()
        values.setdefault(name, []).append(_text(decode_header(str(value), hints)))
    return {k: tuple(v) for k, v in values.items()}


def _hints(msg: Message, raw: bytes, raw_headers: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The mail's declared charsets, looked for only when some header may need them."""
    if raw.isascii() and b"\x1b" not in raw:
        return ()
    return declared_charsets(msg, [v for values in raw_headers.values() for v in values])


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse `raw`; raises `MailTooLarge` or `MailRejected` (both permanent), nothing else."""
    check_raw(raw)
    raw, defects = defuse_param_headers(raw)
    if raw.startswith(_UTF8_BOM):  # some Windows tools save mail with one; no header then
        raw = raw[len(_UTF8_BOM) :]
        defects.append("leading UTF-8 byte order mark removed")
    raw, repairs = repair_header_block(raw)
    defects.extend(repairs)
    hollowed = hollow(raw)
    msg = _parse_tree(hollowed.skeleton, defects)
    for count, part in enumerate(all_parts(msg), start=1):
        if count > MAX_PARTS:
            raise MailRejected(f"more than {MAX_PARTS} MIME parts")
        defects.extend(type(d).__name__ for d in part.defects)

    raw_headers: dict[str, tuple[str, ...]] = {}
    for key, value in msg.raw_items():
        raw_headers.setdefault(str(key).lower(), ())
        raw_headers[str(key).lower()] += (str(value),)
    hints = _hints(msg, hollowed.skeleton, raw_headers)
    headers = _header_values(msg, hints)

    def first(name: str) -> str:
        return headers.get(name, ("",))[0]

    def ids(name: str) -> tuple[str, ...]:
        return tuple(_MSGID_RE.findall(" ".join(headers.get(name, ()))))

    contents = contents_of(msg, defects, hollowed, raw, hints)
    attachments = contents.attachments
    source_html = contents.source_html[:_MAX_HTML]
    html = None
    if source_html:
        html = sanitise_html(source_html, [a.content_id for a in attachments if a.content_id])
    text = _CONTROL_RE.sub("", contents.text)[:_MAX_TEXT].strip()

    mids = ids("message-id")
    try:
        report_type: Any = msg.get_param("report-type", "")
    except Exception:
        report_type = ""
    if isinstance(report_type, tuple):
        report_type = report_type[2]
    unique_defects = tuple(dict.fromkeys(defects))[:_MAX_DEFECTS]
    return ParsedMail(
        message_id=mids[0] if mids else "",
        in_reply_to=ids("in-reply-to"),
        references=ids("references"),
        subject=_WS_RE.sub(" ", first("subject")).strip()[:_MAX_SUBJECT],
        sender=sender_of(raw_headers, hints),
        reply_to=addresses(raw_headers.get("reply-to", ()), hints),
        to=addresses(raw_headers.get("to", ()), hints),
        cc=addresses(raw_headers.get("cc", ()), hints),
        date=_date(first("date")),
        text=text,
        return_path_null=first("return-path").replace(" ", "") == "<>",
        headers=headers,
        content_type=msg.get_content_type(),
        report_type=str(report_type or "").lower(),
        defects=unique_defects,
        html=html,
        attachments=tuple(attachments),
        reply_text=extract_reply(text),
        tree=msg,
    )
