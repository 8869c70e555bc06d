"""Delivery-status fields (RFC 3464), wherever a bounce writes them: who failed, with which code.

The fields come in a `message/delivery-status` part, one group per recipient; in a Sieve reject's
`message/disposition-notification` (RFC 5429); or as plain text, when a MIME bounce's outer headers
lack the MIME declaration (old Sendmail) and the whole mail reads as one text. Apart from
`bounce.py`, which falls back to the MTA's own wording when there are no fields at all.
"""

import email
import email.policy
import re
from email.message import Message

from postroom_converter.domain.bounce_address import dsn_address

__all__ = ["clean_status", "dsn_fields", "inline_dsn_fields", "is_reject_notice"]

# (address, DSN status code or "")
Field = tuple[str, str]

_STATUS_RE = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_RCPT_FIELD_RE = re.compile(r"^(?:original|final)-recipient:", re.IGNORECASE | re.MULTILINE)
# Sieve's `reject` answers with an automatic MDN whose disposition is "deleted" (RFC 5429
# section 2.6.2); a person's read receipt says "displayed", or was sent manually.
_REJECT_RE = re.compile(r"^\s*+automatic-action\s*+/[^;]{0,100};\s*+deleted\b", re.IGNORECASE)
_BLANK_LINE_RE = re.compile(r"\n[ \t]*+\n")


def clean_status(value: str) -> str:
    """The first DSN status code in `value` ("5.1.1"), "" when there is none."""
    found = _STATUS_RE.search(value)
    return ".".join(found.groups()) if found else ""


def _groups_of(text: str) -> list[Message]:
    return [
        email.message_from_string(b.strip() + "\n", policy=email.policy.compat32)
        for b in _BLANK_LINE_RE.split(text.replace("\r\n", "\n"))
    ]


def _status_groups(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):  # the email package parses each field group as a Message
        return [p for p in payload if isinstance(p, Message)]
    return _groups_of(payload) if isinstance(payload, str) else []


def _rejects(part: Message) -> list[Message]:
    return [g for g in _status_groups(part) if _REJECT_RE.match(str(g.get("Disposition") or ""))]


def is_reject_notice(tree: Message | None) -> bool:
    """A Sieve `reject`: an automatic disposition notification saying the mail was deleted."""
    return tree is not None and any(
        _rejects(part)
        for part in tree.walk()
        if part.get_content_type() == "message/disposition-notification"
    )


def _report_parts(tree: Message) -> list[Message]:
    """The parts of the report itself, not of a message it returns: a returned message that was
    itself a bounce carries delivery-status fields about other recipients."""
    parts: list[Message] = []
    stack = [tree]
    while stack:
        part = stack.pop()
        parts.append(part)
        payload = part.get_payload()
        if part.get_content_maintype() == "multipart" and isinstance(payload, list):
            stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
    return parts


def dsn_fields(tree: Message) -> list[Field]:
    """The recipients of the report's delivery-status parts, and of a Sieve reject; when the
    report has none of its own, those of a report it wraps (a gateway forwarding a DSN)."""
    return _fields_in(_report_parts(tree)) or _fields_in(list(tree.walk()))


def _fields_in(parts: list[Message]) -> list[Field]:
    found: list[Field] = []
    for part in parts:
        content_type = part.get_content_type()
        if content_type == "message/delivery-status":
            found += _group_fields(_status_groups(part))
        elif content_type == "message/disposition-notification":
            found += _group_fields(_rejects(part))
    return found


def inline_dsn_fields(text: str, returned_at: re.Pattern[str]) -> list[Field]:
    """Delivery-status fields written into the text: the field groups from the paragraph of the
    first recipient field up to where `returned_at` finds the returned message."""
    text = text.replace("\r\n", "\n")
    first = _RCPT_FIELD_RE.search(text)
    if not first:
        return []
    start = text.rfind("\n\n", 0, first.start()) + 1  # the group's fields before it count
    returned = returned_at.search(text, first.start())
    return _group_fields(_groups_of(text[start : returned.start() if returned else len(text)]))


def _per_recipient(group: Message) -> list[Message]:
    """One group per recipient, also when a report leaves out the blank line between two
    (a second Final-Recipient, or a second Original-Recipient, starts the next)."""
    if len(group.get_all("Final-Recipient", [])) < 2:
        return [group]
    split: list[Message] = []
    for name, value in group.items():
        key = name.lower()
        current = split[-1] if split else None
        if (
            current is None
            or (key == "final-recipient" and "Final-Recipient" in current)
            or (key == "original-recipient" and "Original-Recipient" in current)
        ):
            current = Message()
            split.append(current)
        current[name] = value
    return split


def _group_fields(groups: list[Message]) -> list[Field]:
    found: list[Field] = []
    for group in [one for many in groups for one in _per_recipient(many)]:
        final = str(group.get("Final-Recipient") or "")
        address = dsn_address(final, str(group.get("Original-Recipient") or ""))
        status = clean_status(str(group.get("Status") or ""))
        said = clean_status(str(group.get("Diagnostic-Code") or ""))
        # A generic Status ("5.0.0") says less than the remote server's own code of the same
        # class in Diagnostic-Code ("550 5.7.1 ..."): keep the more specific one.
        if not status or (status.endswith(".0.0") and said[:1] == status[:1]):
            status = said or status
        if address:
            found.append((address, status))
    return found
