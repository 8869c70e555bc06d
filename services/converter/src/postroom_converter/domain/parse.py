"""Reading a raw mail into the fields the converter needs, without ever raising on bad input.

This is the foundation parser: headers, addresses, the text body and defects. Malformed mail
still yields a `ParsedMail` (with `defects` saying what was wrong); only mail over the size cap
is refused, because parsing it could exhaust memory or time.
"""

import email
import email.policy
import email.utils
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage, Message

from postroom_converter.domain.reply_text import extract_reply
from postroom_shared.errors import PermanentError

__all__ = ["MAX_MAIL_BYTES", "Address", "Attachment", "MailTooLarge", "ParsedMail", "parse_mail"]

MAX_MAIL_BYTES = 25 * 1024 * 1024
_MSGID_RE = re.compile(r"<[^<>\s]{1,900}>")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_TAG_RE = re.compile(r"<[^>]*>")
_MAX_TEXT = 200_000


class MailTooLarge(PermanentError):
    """The mail is bigger than the converter will parse."""


@dataclass(frozen=True)
class Address:
    address: str
    name: str = ""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    sha256: str
    content_id: str
    inline: bool


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
    html: str | None = None  # sanitised
    attachments: tuple[Attachment, ...] = ()
    reply_text: str = ""
    tree: EmailMessage | None = field(default=None, repr=False, compare=False)

    def header(self, name: str) -> str:
        """First value of header `name` (case-insensitive), or ''."""
        values = self.headers.get(name.lower(), ())
        return values[0] if values else ""


def _text(value: object) -> str:
    return _CONTROL_RE.sub("", str(value)).strip()


def _addresses(values: list[str]) -> tuple[Address, ...]:
    found = []
    for name, addr in email.utils.getaddresses(values):
        addr = addr.strip()
        if "@" in addr and len(addr) <= 320:
            found.append(Address(address=addr.lower(), name=_text(name)))
    return tuple(found)


def _header_values(msg: Message) -> dict[str, tuple[str, ...]]:
    values: dict[str, list[str]] = {}
    for key in msg:
        lower = key.lower()
        if lower in values:
            continue
        try:
            values[lower] = [_text(v) for v in msg.get_all(key, [])]
        except Exception:  # a header the policy cannot decode: keep its raw form
            values[lower] = [_text(v) for v in msg.get_all(key, failobj=[]) or []]
    return {k: tuple(v) for k, v in values.items()}


def _date(value: str) -> datetime | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _body_text(msg: EmailMessage, defects: list[str]) -> str:
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
    except Exception as exc:
        defects.append(f"body: {exc!r}")
        part = None
    if part is None:
        return ""
    try:
        content = part.get_content()
    except Exception as exc:  # unknown charset, broken transfer encoding
        defects.append(f"body decode: {exc!r}")
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    text = str(content)
    if part.get_content_subtype() == "html":
        text = re.sub(r"\s+\n", "\n", _TAG_RE.sub("", text))
    return text[:_MAX_TEXT].strip()


def parse_mail(raw: bytes) -> ParsedMail:
    """Parse `raw`; raises `MailTooLarge` above `MAX_MAIL_BYTES`, nothing else."""
    if len(raw) > MAX_MAIL_BYTES:
        raise MailTooLarge(f"mail is {len(raw)} bytes, the limit is {MAX_MAIL_BYTES}")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    defects = [type(d).__name__ for d in msg.defects]
    headers = _header_values(msg)

    def first(name: str) -> str:
        return headers.get(name, ("",))[0]

    def ids(name: str) -> tuple[str, ...]:
        return tuple(_MSGID_RE.findall(" ".join(headers.get(name, ()))))

    senders = _addresses(list(headers.get("from", ())))
    return_path = first("return-path")
    mids = ids("message-id")
    text = _body_text(msg, defects)
    return ParsedMail(
        message_id=mids[0] if mids else "",
        in_reply_to=ids("in-reply-to"),
        references=ids("references"),
        subject=first("subject")[:1000],
        sender=senders[0] if senders else None,
        reply_to=_addresses(list(headers.get("reply-to", ()))),
        to=_addresses(list(headers.get("to", ()))),
        cc=_addresses(list(headers.get("cc", ()))),
        date=_date(first("date")),
        text=text,
        return_path_null=return_path.replace(" ", "") == "<>",
        headers=headers,
        content_type=msg.get_content_type(),
        report_type=str(msg.get_param("report-type", "") or "").lower(),
        defects=tuple(defects),
        reply_text=extract_reply(text),
        tree=msg,
    )
