"""The fields `bench/fidelity.py` compares, read by Postroom and by the reference decoder.

The reference is the standard library's `email` package with `policy.default`, a separate
parse of the raw bytes. Where Postroom has a rule of its own that is not decoding (which parts
are attachments, which header gives the sender when From has no address), the reference side
applies the same rule to its own decoded values, so that what differs is how a value was read,
not which value was chosen. Text is normalised before comparing: lower-cased words (letters
and digits) joined by single spaces, so line breaks, list markers, table layout and
punctuation of an HTML rendering do not count; HTML is rendered by the standard library's
`html.parser`, independently of Postroom's nh3 rendering.
"""

import contextlib
import email.utils
import re
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import Any

from postroom_converter.domain.parse import MailRejected, MailTooLarge, parse_mail

__all__ = ["FIELDS", "Fields", "normalise_text", "postroom_fields", "reference_fields"]

FIELDS = ("sender", "name", "subject", "attachments", "body")
Fields = dict[str, str]

_WORD_RE = re.compile(r"\w+")
_WS_RE = re.compile(r"\s+")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_MAX_TEXT = 200_000  # what Postroom keeps of a body's text, and of a subject:
_MAX_SUBJECT = 1000
_SENDER_HEADERS = ("from", "sender", "reply-to", "return-path")
_BODY_TYPES = {"text/plain", "text/html"}
_NOT_ATTACHMENTS = {
    "message/delivery-status",
    "message/global-delivery-status",
    "message/disposition-notification",
    "message/feedback-report",
}
_TNEF = {"application/ms-tnef", "application/vnd.ms-tnef"}


def normalise_text(text: str, ascii_only: bool = False) -> str:
    """Lower-cased words joined by one space; `ascii_only` keeps only ASCII letters and
    digits (where the reference could not decode a body, U+FFFD, only they compare)."""
    text = text.lower()
    if ascii_only:
        text = text.encode("ascii", "replace").decode("ascii")
    return " ".join(_WORD_RE.findall(text))


def _line(value: str) -> str:
    return _WS_RE.sub(" ", _CONTROL_RE.sub("", value)).strip()


def postroom_fields(raw: bytes) -> Fields | None:
    try:
        mail = parse_mail(raw)
    except (MailTooLarge, MailRejected):
        return None
    return {
        "sender": mail.sender.address if mail.sender else "",
        "name": mail.sender.name if mail.sender else "",
        "subject": mail.subject,
        "attachments": " | ".join(a.filename for a in mail.attachments),
        "body": mail.text,
    }


class _Text(HTMLParser):
    """Text of an HTML document without head, script and style."""

    _SKIP = frozenset({"head", "script", "style", "title", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skipping += 1
        self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self.skipping:
            self.skipping -= 1
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def _html_text(source: str) -> str:
    parser = _Text()
    with contextlib.suppress(Exception):  # the stdlib parser on broken markup: what it read
        parser.feed(source)
        parser.close()
    return "".join(parser.parts)


def _header(msg: Message, name: str) -> Any:
    try:
        return msg[name]
    except Exception:  # policy.default's header parser on hostile input
        return None


def _addresses(msg: Message, name: str) -> list[Any]:
    header = _header(msg, name)
    if header is None:
        return []
    if hasattr(header, "addresses"):
        return list(header.addresses)
    # Return-Path is no address header to policy.default: its own parser, on the raw value
    pairs = email.utils.getaddresses([str(header)])
    return [Address(display_name=n, addr_spec=a) for n, a in pairs if "@" in a]


def _sender(msg: Message) -> tuple[str, str]:
    """From's first address with an @, else Sender's, Reply-To's, Return-Path's; the name
    from From when it has one (Postroom's documented rule, on the reference's values)."""
    from_names = [_line(a.display_name or "") for a in _addresses(msg, "from")]
    from_name = next((n for n in from_names if n), "")
    for name in _SENDER_HEADERS:
        for address in _addresses(msg, name):
            spec = _CONTROL_RE.sub("", address.addr_spec or "").strip().strip("<>")
            if "@" in spec and not spec.startswith("@"):
                display = _line(address.display_name or "")
                return spec.lower(), display if name == "from" else (from_name or display)
    return "", ""


def _is_attachment(part: Message) -> bool:
    ctype = part.get_content_type()
    if ctype in _NOT_ATTACHMENTS:
        return False
    if part.get_content_disposition() == "attachment":
        return True
    return ctype not in _BODY_TYPES and part.get_content_maintype() != "multipart"


def _leaves(msg: Message) -> list[Message]:
    """The mail's own leaf parts in order; attached messages are leaves."""
    found: list[Message] = []
    stack = [msg]
    while stack:
        part = stack.pop()
        payload: Any = part.get_payload()
        if part.get_content_maintype() == "multipart" and isinstance(payload, list):
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
        else:
            found.append(part)
    return found


def _attachment_names(msg: Message) -> str:
    names = []
    for part in _leaves(msg):
        try:
            wanted = _is_attachment(part) and part.get_content_type() not in _TNEF
            name = part.get_filename() if wanted else None
        except Exception:  # a malformed parameter
            name = None
        if name and name.strip().lower() != "winmail.dat":
            name = re.split(r"[\\/]", _CONTROL_RE.sub("", name))[-1].strip().strip('"').strip()
            if name:
                names.append(name)
    return " | ".join(names)


def _body(msg: EmailMessage) -> str:
    try:
        part = msg.get_body(preferencelist=("plain", "html"))
        if part is None:
            return ""
        content = part.get_content()
    except Exception:  # an unknown charset, or a body the content manager cannot read
        return ""
    if not isinstance(content, str):
        return ""
    content = content[:_MAX_TEXT]
    text = _html_text(content) if part.get_content_subtype() == "html" else content
    # Postroom reads a lone CR as a line break and keeps no other control character
    return _CONTROL_RE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def reference_fields(raw: bytes) -> Fields:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    sender, name = _sender(msg)
    subject = _header(msg, "subject")
    return {
        "sender": sender,
        "name": name,
        "subject": _line(str(subject))[:_MAX_SUBJECT].strip() if subject is not None else "",
        "attachments": _attachment_names(msg),
        "body": _body(msg),
    }
