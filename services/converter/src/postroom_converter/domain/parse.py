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

from postroom_converter.domain.attachments import Attachment, attachments_of, is_attachment
from postroom_converter.domain.bigparts import hollow
from postroom_converter.domain.charsets import (
    decode_header,
    raw_header_text,
)
from postroom_converter.domain.html import html_to_text, sanitise_html
from postroom_converter.domain.limits import (
    MAX_DEPTH,
    MAX_MAIL_BYTES,
    MAX_PARTS,
    MailRejected,
    MailTooLarge,
    check_raw,
    defuse_param_headers,
)
from postroom_converter.domain.mime_tree import all_parts, decoded_body, leaves
from postroom_converter.domain.reply_text import extract_reply

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
_MAX_ADDRESS_HEADER = 64 * 1024  # per address header: more is no real recipient list


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
class Address:
    address: str
    name: str = ""


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


def _addresses(values: tuple[str, ...]) -> tuple[Address, ...]:
    if not values:
        return ()
    cleaned = [_WS_RE.sub(" ", raw_header_text(v)[:_MAX_ADDRESS_HEADER]) for v in values]
    try:
        pairs = email.utils.getaddresses(cleaned)
        if not any("@" in addr for _, addr in pairs):
            # strict mode drops the whole header for one flaw (even a trailing comma)
            pairs = email.utils.getaddresses(cleaned, strict=False)
    except Exception:  # the address parser on hostile input (deeply nested comments)
        return ()
    found = []
    for name, addr in pairs:
        addr = _CONTROL_RE.sub("", addr).strip()
        if "@" in addr and len(addr) <= 320:
            display = _WS_RE.sub(" ", _text(decode_header(name))) if name else ""
            found.append(Address(address=addr.lower(), name=display))
    return tuple(found)


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


def _header_values(msg: Message) -> dict[str, tuple[str, ...]]:
    values: dict[str, list[str]] = {}
    for key, value in msg.raw_items():
        name = _text(raw_header_text(str(key))).lower()
        values.setdefault(name, []).append(_text(decode_header(str(value))))
    return {k: tuple(v) for k, v in values.items()}


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse `raw`; raises `MailTooLarge` or `MailRejected` (both permanent), nothing else."""
    check_raw(raw)
    raw, defects = defuse_param_headers(raw)
    if raw.startswith(_UTF8_BOM):  # some Windows tools save mail with one; no header then
        raw = raw[len(_UTF8_BOM) :]
        defects.append("leading UTF-8 byte order mark removed")
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
    headers = _header_values(msg)

    def first(name: str) -> str:
        return headers.get(name, ("",))[0]

    def ids(name: str) -> tuple[str, ...]:
        return tuple(_MSGID_RE.findall(" ".join(headers.get(name, ()))))

    texts: list[str] = []
    htmls: list[str] = []
    attachments: list[Attachment] = []
    text_groups: set[int] = set()
    html_groups: set[int] = set()
    for part, group in leaves(msg):
        ctype = part.get_content_type()
        if ctype.startswith("multipart/"):  # no usable boundary: the email package kept text
            ctype = "text/plain"
        try:
            if is_attachment(part):
                big = hollowed.data_for(part.get_payload(), raw) if hollowed.spans else None
                attachments.extend(attachments_of(part, defects, data=big))
            elif ctype == "text/plain" and (group is None or group not in text_groups):
                texts.append(decoded_body(part, defects))
                if group is not None:
                    text_groups.add(group)
            elif ctype == "text/html" and (group is None or group not in html_groups):
                htmls.append(decoded_body(part, defects))
                if group is not None:
                    html_groups.add(group)
        except Exception as exc:  # last resort: one undecodable part must not cost the mail
            defects.append(f"{ctype} part skipped: {type(exc).__name__}: {str(exc)[:100]}")

    source_html = "\n".join(htmls)[:_MAX_HTML]
    html = None
    if htmls:
        html = sanitise_html(source_html, [a.content_id for a in attachments if a.content_id])
    text = "\n\n".join(t.strip() for t in texts if t.strip())
    if not text and source_html:
        text = html_to_text(source_html)
    text = _CONTROL_RE.sub("", text)[:_MAX_TEXT].strip()

    senders = _addresses(raw_headers.get("from", ()))
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
        sender=senders[0] if senders else None,
        reply_to=_addresses(raw_headers.get("reply-to", ())),
        to=_addresses(raw_headers.get("to", ())),
        cc=_addresses(raw_headers.get("cc", ())),
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
