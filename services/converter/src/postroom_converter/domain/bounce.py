"""Delivery status notifications: who bounced, and whether for good.

RFC 3464 reports are read field by field (`bounce_dsn.py`, the address rule in
`bounce_address.py`), Amazon SES notifications as JSON (`bounce_ses.py`). Non-standard bounces
(qmail, Exim, old Sendmail, Postfix text, Domino, Exchange 2003, Japanese carriers, ...) are read
from the MTA's own text: the recipient addresses it names outside the returned original message
(and not its sender), with the DSN status (or SMTP reply code) written next to them; when it
names none, the returned mail's sole recipient (`returned.py`). docs/decisions.md says which
address a bounce marks and when it is hard.

Anyone can send a bounce-looking mail, so every step is linear in the text: no two quantifiers
compete for the same characters (possessive `*+` where they would), and HTML tags are cut by
`_without_tags` instead of a pattern that rescans 2,000 characters after every `<`
(tests/unit/test_pathological.py).
"""

import re
from dataclasses import dataclass
from email.message import EmailMessage, Message

from postroom_converter.domain.bounce_address import DDA_SMTP_RE
from postroom_converter.domain.bounce_dsn import clean_status, dsn_fields, inline_dsn_fields
from postroom_converter.domain.bounce_ses import ses_fields
from postroom_converter.domain.returned import returned_headers

__all__ = ["Bounce", "BouncedRecipient", "notice_text", "parse_bounce"]

_MAX_NOTICE = 64_000
_ADDR_RE = re.compile(
    r"(?<![\w=/.+-])[A-Za-z0-9!#$%&*+?^_`{|}~.-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
)
_REPLY_RE = re.compile(r"(?<![\d.])([45]\d\d)(?:[ -]|$)")
# Lines naming the sender, the original's headers, the SMTP dialogue or whom to ask for help
# ("For further assistance, please contact <postmaster@...>"): not recipients.
_NOT_RCPT_LINE_RE = re.compile(
    r"^\s*+>*+\s*+(?:from|return-path|reply-to|sender|message-id|received|x-[\w-]+|references|"
    r"in-reply-to|envelope-from|mail from|>>> mail from|original-envelope-id|reporting-mta|"
    r"dkim-signature|list-[\w-]+|errors-to)\s*:|\bmail from\s*+:?+\s*+<|\bhelo\b|\behlo\b|"
    r"\bplease contact\b|\bfurther assistance\b",
    re.IGNORECASE,
)
# Not the address's fault, and not for good: delays, and giving up on a host that could not be
# reached (the mailbox may be fine the next time).
_TEMPORARY_RE = re.compile(
    r"\b(?:delayed|delay|deferred|still being retried|will (?:be retried|retry|keep trying)|"
    r"temporar(?:y|ily)|not yet been delivered|transient|retry timeout exceeded|"
    r"have been failing for a long time|host not reachable)\b",
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
    r"original (?:message|mail) (?:follows|headers|as follows)|message text follows|"
    r"(?:the )?(?:original|returned) message(?! was received at)|unsent message below|"
    r"content-type:[ \t]*+(?:message/rfc822|text/rfc822-headers)|(?:received|return-path):[ \t])",
    re.IGNORECASE | re.MULTILINE,
)
# The bounce's own To (our address) and the senders: never the one who bounced.
_SENDER_FIELDS = ("To", "From", "Return-Path", "Reply-To", "Sender")
_ALIAS_RE = re.compile(r"\((?:ultimately )?(?:generated|expanded) from\b", re.IGNORECASE)
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


def _line_addresses(line: str) -> list[str]:
    """The addresses a line of a text bounce names: plain ones (not the tail of a `key=value`
    or a path), and Exchange's `dda:SMTP=addr`, in the order written."""
    found = [(m.start(1), m.group(1)) for m in DDA_SMTP_RE.finditer(line)]
    for match in _ADDR_RE.finditer(line):
        if line[max(0, match.start() - 1) : match.start()] not in ("=", "/"):
            found.append((match.start(), match.group(0)))
    return [address.strip(".").lower() for _, address in sorted(found)]


def _text_recipients(notice: str, exclude: set[str]) -> list[BouncedRecipient]:
    lines = notice.splitlines()
    seen: dict[str, int] = {}
    for number, line in enumerate(lines):
        if _NOT_RCPT_LINE_RE.search(line):
            continue
        addresses = _line_addresses(line)
        alias = _ALIAS_RE.search(line)
        if alias and (wrote := _line_addresses(line[alias.end() :])):
            # "kim.box@host (expanded from <kim@example.org>)": the customer wrote to the
            # second one (the rule of bounce_address.dsn_address); it replaces the first,
            # on this line or, as Exim puts it, on the line above.
            expanded = _line_addresses(line[: alias.start()]) or list(seen)[-1:]
            seen = {a: n for a, n in seen.items() if a not in expanded}
            addresses = wrote[:1]
        for address in addresses:
            if address not in exclude and address not in seen:
                seen[address] = number
    # A recipient's status is the first code after its line, before the next recipient's line
    # (at most 20 lines on); with one recipient line only, the first code anywhere in the notice
    # ("Could not be delivered because of 550 5.1.1 ... recipients affected: kim@...").
    numbers = sorted(set(seen.values()))
    if not numbers:
        return []
    statuses: dict[int, str] = {}
    for here, after in zip(numbers, [*numbers[1:], len(lines)], strict=True):
        statuses[here] = clean_status("\n".join(lines[here : min(after, here + 20)]))
    if len(numbers) == 1 and not statuses[numbers[0]]:
        statuses[numbers[0]] = clean_status("\n".join(lines))
    return [BouncedRecipient(address, statuses[number]) for address, number in seen.items()]


def _refined(fields: list[tuple[str, str]], body: str) -> list[BouncedRecipient]:
    """DSN recipients, a generic status ("5.0.0") refined by the code of the same class that
    the notice writes on the recipient's own line ("kim@example.org: 550 5.1.1 unknown")."""
    said: dict[str, str] = {}
    if any(status.endswith(".0.0") for _, status in fields):
        for line in body.splitlines():
            for address in _ADDR_RE.findall(line):
                said.setdefault(address.lower(), clean_status(line))
    refined: list[BouncedRecipient] = []
    for address, status in fields:
        code = said.get(address, "") if status.endswith(".0.0") else ""
        refined.append(BouncedRecipient(address, code if code[:1] == status[:1] else status))
    return refined


def _addresses(headers: Message | None, names: tuple[str, ...]) -> tuple[str, ...]:
    values = (
        " ".join(str(v) for name in names for v in headers.get_all(name, [])) if headers else ""
    )
    return tuple(dict.fromkeys(a.lower() for a in _ADDR_RE.findall(values)))


def _sole_returned(
    returned: Message | None, notice: str, exclude: set[str]
) -> list[BouncedRecipient]:
    """A report naming no recipient (a local name, "Delivery report unavailable", the address
    only in the returned copy) is about the returned mail's recipient, when it had one."""
    found = [a for a in _addresses(returned, ("To", "Cc")) if a not in exclude]
    return [BouncedRecipient(found[0], clean_status(notice))] if len(found) == 1 else []


def _not_recipients(tree: Message, returned: Message | None) -> set[str]:
    """Who a text bounce names without having bounced: the bounce's own sender and recipient,
    and the returned mail's sender (unless it wrote to itself)."""
    senders = set(_addresses(returned, _SENDER_FIELDS[1:]))
    senders -= set(_addresses(returned, ("To", "Cc")))
    return set(_addresses(tree, _SENDER_FIELDS)) | senders


def parse_bounce(tree: EmailMessage | None, *, text: str | None = None) -> Bounce | None:
    """The bounce report inside `tree`, or None when no bounced recipient can be found.

    `text` is the notice text when the caller already has it (see `notice_text`)."""
    if tree is None:
        return None
    body = notice_text(tree) if text is None else text
    cut = _ORIGINAL_RE.search(body)  # the returned mail, quoted inline: not the notice
    notice, copy = (body[: cut.start()], body[cut.start() :]) if cut else (body, "")
    recipients = _refined(dsn_fields(tree), body)
    if not recipients:
        ses = ses_fields(body)
        if ses is not None:
            recipients = [BouncedRecipient(address, status) for address, status in ses]
        elif inline := inline_dsn_fields(body, _ORIGINAL_RE):
            recipients = [BouncedRecipient(address, status) for address, status in inline]
        else:
            returned = returned_headers(tree, copy)
            exclude = _not_recipients(tree, returned)
            recipients = _text_recipients(notice, exclude)
            recipients = recipients or _sole_returned(returned, notice, exclude)
    if not recipients:
        return None
    if any(r.status for r in recipients):
        permanent = any(r.status.startswith("5") for r in recipients)
    else:
        codes = _REPLY_RE.findall(notice)
        permanent = not _TEMPORARY_RE.search(notice) if not codes else codes[0].startswith("5")
    return Bounce(permanent=permanent, recipients=tuple(recipients))
