"""Delivery status notifications: who bounced, and whether for good.

RFC 3464 reports (`message/delivery-status` parts) are read field by field. Non-standard bounces
(qmail, Exim, old Sendmail, Postfix text, Domino, Exchange 2003, Japanese carriers, Amazon SES
notifications, ...) are read from the MTA's own text: the recipient addresses it names outside
the returned original message, with the DSN status (or SMTP reply code) written next to them.

Anyone can send a bounce-looking mail, so every step is linear in the text: no two quantifiers
compete for the same characters (possessive `*+` where they would), and HTML tags are cut by
`_without_tags` instead of a pattern that rescans 2,000 characters after every `<`
(tests/unit/test_pathological.py).
"""

import email
import email.policy
import json
import re
from dataclasses import dataclass
from email.message import EmailMessage, Message

from postroom_converter.domain.bounce_address import DDA_SMTP_RE, dsn_address

__all__ = ["Bounce", "BouncedRecipient", "is_reject_notice", "notice_text", "parse_bounce"]

_MAX_NOTICE = 64_000
_ADDR_RE = re.compile(
    r"(?<![\w=/.+-])[A-Za-z0-9!#$%&*+?^_`{|}~.-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
)
_STATUS_RE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_REPLY_RE = re.compile(r"(?<![\d.])([45]\d\d)(?:[ -]|$)")
# Lines naming the sender, the original's headers or the SMTP dialogue: not recipients.
_NOT_RCPT_LINE_RE = re.compile(
    r"^\s*+>*+\s*+(?:from|return-path|reply-to|sender|message-id|received|x-[\w-]+|references|"
    r"in-reply-to|envelope-from|mail from|>>> mail from|original-envelope-id|reporting-mta|"
    r"dkim-signature|list-[\w-]+|errors-to)\s*:|\bmail from\s*+:?+\s*+<|\bhelo\b|\behlo\b",
    re.IGNORECASE,
)
_TEMPORARY_RE = re.compile(
    r"\b(?:delayed|delay|deferred|still being retried|will (?:be retried|retry|keep trying)|"
    r"temporar(?:y|ily)|not yet been delivered|transient)\b",
    re.IGNORECASE,
)
# Where an MTA starts quoting the returned message inline: after a line's run of " \t|>-"
# ("------ This is a copy of your message", "> original message follows"). The run is taken
# whole (possessive): optional dashes inside it made the pattern cubic on a line of dashes.
# Sendmail opens its notice with "The original message was received at <date>", before the
# failed addresses: not a start. A MIME bounce whose outer headers lack the MIME declaration
# reads as one text, where the returned message starts at its part's Content-Type line.
_ORIGINAL_RE = re.compile(
    r"^[ \t|>-]*+(?:this is a copy of (?:your|the) message|below this line is a copy|"
    r"original message (?:follows|headers)|message text follows|"
    r"(?:the )?(?:original|returned) message(?! was received at)|unsent message below|"
    r"content-type:[ \t]*+(?:message/rfc822|text/rfc822-headers))",
    re.IGNORECASE | re.MULTILINE,
)
_RCPT_FIELD_RE = re.compile(r"^(?:original|final)-recipient:", re.IGNORECASE | re.MULTILINE)
# Sieve's `reject` answers with an automatic MDN whose disposition is "deleted" (RFC 5429
# section 2.6.2); a person's read receipt says "displayed", or was sent manually.
_REJECT_RE = re.compile(r"^\s*+automatic-action\s*+/[^;]{0,100};\s*+deleted\b", re.IGNORECASE)
_BLANK_LINE_RE = re.compile(r"\n[ \t]*+\n")
_SES_RE = re.compile(r"\{\s*\"notificationType\"\s*:", re.IGNORECASE)
_TAG_CHARS = 2_000  # a "tag" is at most this long between its < and >


@dataclass(frozen=True)
class BouncedRecipient:
    address: str
    status: str  # DSN status code, e.g. "5.1.1"; "" when the bounce does not say


@dataclass(frozen=True)
class Bounce:
    permanent: bool
    recipients: tuple[BouncedRecipient, ...]


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


def _without_tags(html: str, limit: int) -> str:
    """`re.sub(r"<[^>]{0,2000}>", " ", html)`, at least its first `limit` characters, in
    linear time (the pattern rescans 2,000 characters from every `<` of a run of them).

    Every `<` between two `>` shares the next `>`: the first one at most 2,000 characters
    before it opens the tag; when there is none, the `>` stays."""
    out: list[str] = []
    size = 0
    start = 0
    while size < limit:
        close = html.find(">", start)
        if close == -1:
            break
        opened = html.find("<", max(start, close - _TAG_CHARS - 1), close)
        piece = html[start:close] + ">" if opened == -1 else html[start:opened] + " "
        out.append(piece)
        size += len(piece)
        start = close + 1
    if size < limit:
        out.append(html[start:])
    return "".join(out)


def notice_text(tree: Message | None) -> str:
    """The text the reporting system wrote: text parts outside any returned message
    (`message/rfc822`, `text/rfc822-headers`), decoded, capped at 64 KB."""
    if tree is None:
        return ""
    chunks: list[str] = []
    size = 0
    stack: list[Message] = [tree]
    while stack and size < _MAX_NOTICE:
        part = stack.pop()
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            continue
        if part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
            continue
        broken = part.get_content_maintype() == "multipart"  # unparsable boundary: text
        if broken or part.get_content_maintype() == "text" or ctype == "message/delivery-status":
            text = _decoded(part)
            if part.get_content_subtype() == "html":
                text = _without_tags(text, _MAX_NOTICE - size)
            chunks.append(text[: _MAX_NOTICE - size])
            size += len(chunks[-1])
    return "\n".join(chunks)


def _status_groups(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):  # the email package parses each field group as a Message
        return [p for p in payload if isinstance(p, Message)]
    if isinstance(payload, str):
        blocks = _BLANK_LINE_RE.split(payload.replace("\r\n", "\n"))
        return [
            email.message_from_string(b.strip() + "\n", policy=email.policy.compat32)
            for b in blocks
        ]
    return []


def _clean_status(value: str) -> str:
    found = _STATUS_RE.search(value)
    return ".".join(found.groups()) if found else ""


def _rejects(part: Message) -> list[Message]:
    return [g for g in _status_groups(part) if _REJECT_RE.match(str(g.get("Disposition") or ""))]


def is_reject_notice(tree: Message | None) -> bool:
    """A Sieve `reject`: an automatic disposition notification saying the mail was deleted."""
    return tree is not None and any(
        _rejects(part)
        for part in tree.walk()
        if part.get_content_type() == "message/disposition-notification"
    )


def _dsn_recipients(tree: Message) -> list[BouncedRecipient]:
    recipients: list[BouncedRecipient] = []
    for part in tree.walk():
        content_type = part.get_content_type()
        if content_type == "message/delivery-status":
            recipients += _group_recipients(_status_groups(part))
        elif content_type == "message/disposition-notification":
            recipients += _group_recipients(_rejects(part))
    return recipients


def _inline_dsn_recipients(text: str) -> list[BouncedRecipient]:
    """Delivery-status fields written into the text, as when a MIME bounce's outer headers lack
    the MIME declaration (old Sendmail): the field groups between the first recipient field
    and the returned message."""
    text = text.replace("\r\n", "\n")
    first = _RCPT_FIELD_RE.search(text)
    if not first:
        return []
    start = text.rfind("\n\n", 0, first.start()) + 1  # the group's fields before it count
    original = _ORIGINAL_RE.search(text, first.start())
    block = text[start : original.start() if original else len(text)]
    groups = [
        email.message_from_string(b.strip() + "\n", policy=email.policy.compat32)
        for b in _BLANK_LINE_RE.split(block)
    ]
    return _group_recipients(groups)


def _group_recipients(groups: list[Message]) -> list[BouncedRecipient]:
    recipients: list[BouncedRecipient] = []
    for group in groups:
        final = str(group.get("Final-Recipient") or "")
        address = dsn_address(final, str(group.get("Original-Recipient") or ""))
        status = _clean_status(str(group.get("Status") or ""))
        if not status:
            status = _clean_status(str(group.get("Diagnostic-Code") or ""))
        if address:
            recipients.append(BouncedRecipient(address=address, status=status))
    return recipients


def _ses_recipients(text: str) -> list[BouncedRecipient] | None:
    start = _SES_RE.search(text)
    if not start:
        return None
    try:
        doc, _ = json.JSONDecoder().raw_decode(text[start.start() :])
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the decoder goes
        return None
    if not isinstance(doc, dict):
        return None
    found: list[BouncedRecipient] = []
    bounce = doc.get("bounce")
    if isinstance(bounce, dict):
        for r in bounce.get("bouncedRecipients") or []:
            if isinstance(r, dict) and r.get("emailAddress"):
                status = _clean_status(str(r.get("status") or r.get("diagnosticCode") or ""))
                found.append(BouncedRecipient(str(r["emailAddress"]).lower(), status))
    return found


def _line_addresses(line: str) -> list[str]:
    """The addresses a line of a text bounce names: plain ones (not the tail of a `key=value`
    or a path), and Exchange's `dda:SMTP=addr`, in the order written."""
    found = [(m.start(1), m.group(1)) for m in DDA_SMTP_RE.finditer(line)]
    for match in _ADDR_RE.finditer(line):
        if line[max(0, match.start() - 1) : match.start()] not in ("=", "/"):
            found.append((match.start(), match.group(0)))
    return [address.strip(".").lower() for _, address in sorted(found)]


def _text_recipients(text: str, exclude: set[str]) -> list[BouncedRecipient]:
    original = _ORIGINAL_RE.search(text)
    lines = (text[: original.start()] if original else text).splitlines()
    seen: dict[str, int] = {}
    for number, line in enumerate(lines):
        if _NOT_RCPT_LINE_RE.search(line):
            continue
        for address in _line_addresses(line):
            if address not in exclude and address not in seen:
                seen[address] = number
    found: list[BouncedRecipient] = []
    statuses: dict[int, str] = {}  # by line: many addresses on one line share its window
    for address, number in seen.items():
        if number not in statuses:
            statuses[number] = _clean_status("\n".join(lines[number : number + 6]))
        found.append(BouncedRecipient(address=address, status=statuses[number]))
    return found


def _addresses_of(tree: Message, name: str) -> set[str]:
    return {a.lower() for a in _ADDR_RE.findall(" ".join(str(v) for v in tree.get_all(name, [])))}


def parse_bounce(tree: EmailMessage | None, *, text: str | None = None) -> Bounce | None:
    """The bounce report inside `tree`, or None when no bounced recipient can be found.

    `text` is the notice text when the caller already has it (see `notice_text`)."""
    if tree is None:
        return None
    recipients = _dsn_recipients(tree)
    body = notice_text(tree) if text is None else text
    if not recipients:
        ses = _ses_recipients(body)
        if ses is not None:
            recipients = ses
        elif inline := _inline_dsn_recipients(body):
            recipients = inline
        else:
            exclude = _addresses_of(tree, "To") | _addresses_of(tree, "From")
            exclude |= _addresses_of(tree, "Return-Path") | _addresses_of(tree, "Reply-To")
            recipients = _text_recipients(body, exclude)
    if not recipients:
        return None
    if any(r.status for r in recipients):
        permanent = any(r.status.startswith("5") for r in recipients)
    else:
        codes = _REPLY_RE.findall(body)
        permanent = not _TEMPORARY_RE.search(body) if not codes else codes[0].startswith("5")
    return Bounce(permanent=permanent, recipients=tuple(recipients))
