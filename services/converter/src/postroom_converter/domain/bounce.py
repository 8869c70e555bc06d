"""Delivery status notifications: who bounced, and whether for good (RFC 3464).

Foundation version: reads `message/delivery-status` parts. Non-standard bounces from the
corpus come with the corpus work (issue 3).
"""

import email
import email.policy
from dataclasses import dataclass
from email.message import EmailMessage, Message

__all__ = ["Bounce", "BouncedRecipient", "parse_bounce"]


@dataclass(frozen=True)
class BouncedRecipient:
    address: str
    status: str  # DSN status code, e.g. "5.1.1"; "" when the bounce does not say


@dataclass(frozen=True)
class Bounce:
    permanent: bool
    recipients: tuple[BouncedRecipient, ...]


def _status_groups(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):  # the email package parses each field group as a Message
        return [p for p in payload if isinstance(p, Message)]
    if isinstance(payload, str):
        parsed = email.message_from_string(
            payload.replace("\r\n", "\n"), policy=email.policy.compat32
        )
        return [parsed]
    return []


def parse_bounce(tree: EmailMessage | None) -> Bounce | None:
    """The bounce report inside `tree`, or None when it carries no delivery-status part."""
    if tree is None:
        return None
    recipients: list[BouncedRecipient] = []
    for part in tree.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for group in _status_groups(part):
            rcpt = str(group.get("Final-Recipient") or group.get("Original-Recipient") or "")
            if not rcpt:
                continue
            address = rcpt.split(";", 1)[-1].strip().strip("<>").lower()
            status = str(group.get("Status") or "").strip().split(" ", 1)[0]
            recipients.append(BouncedRecipient(address=address, status=status))
    if not recipients:
        return None
    permanent = any(r.status.startswith("5") for r in recipients)
    return Bounce(permanent=permanent, recipients=tuple(recipients))
