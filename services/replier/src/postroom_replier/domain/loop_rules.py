"""Whether an item event gets an auto-reply, and to whom (docs/features.md F5, F10;
docs/security.md).

Silence is the safe default: every rule that says no is named in the result, and the service
publishes it as `reply.suppressed.v1` so nobody has to guess why no mail went out.
"""

import re
from dataclasses import dataclass, field
from typing import Literal

from postroom_shared.contracts import MessageRefV1
from postroom_shared.models import EmailAccount

__all__ = ["NOREPLY_RE", "ReplyPlan", "plan_auto_reply", "reply_target"]

NOREPLY_RE = re.compile(
    r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|donotreply|bounces?|daemon|"
    r"auto-?reply|autoresponder|listserv|majordomo|owner-[^@]*|[^@]*-request)([+.-][^@]*)?@",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ReplyPlan:
    recipients: tuple[str, ...]
    suppressed: tuple[tuple[str | None, str], ...] = field(default=())


def _why_not(address: str, own: set[str]) -> str | None:
    if address in own:
        return "recipient is one of our own addresses"
    if NOREPLY_RE.match(address):
        return "recipient looks like a daemon or no-reply address"
    return None


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[-1]


def reply_target(message: MessageRefV1, *, honour_reply_to: bool) -> str | None:
    """Whom an auto-reply to `message` goes to: From, or Reply-To when it is in From's domain
    (a team address, a ticket alias) or the account honours any Reply-To. Anyone can put any
    Reply-To on a mail; answering it blindly lets forged mail aim Postroom at any address."""
    sender = message.sender.address.lower() if message.sender else None
    reply_to = message.reply_to[0].address.lower() if message.reply_to else None
    if reply_to is None or "@" not in reply_to:
        return sender
    if honour_reply_to or (sender is not None and _domain(sender) == _domain(reply_to)):
        return reply_to
    return sender


def plan_auto_reply(
    *,
    account: EmailAccount,
    event: Literal["created", "updated"],
    message: MessageRefV1,
    own_addresses: set[str],
) -> ReplyPlan:
    """Who gets an auto-reply for `message`, and who does not and why."""
    settings = account.auto_reply
    sender = message.sender.address.lower() if message.sender else None
    if not settings.enabled:
        return ReplyPlan((), ((sender, "auto-reply is off for this account"),))
    if event == "updated" and settings.first_mail_only:
        return ReplyPlan((), ((sender, "not the first mail of the thread (first mail only)"),))
    kind = message.classification
    if kind.kind != "normal":
        why = f"inbound mail is {kind.kind}: {'; '.join(kind.reasons)}"
        return ReplyPlan((), ((sender, why),))
    if message.return_path_null:
        return ReplyPlan((), ((sender, "null return path"),))
    target = reply_target(message, honour_reply_to=settings.honour_reply_to)
    if target is None:
        return ReplyPlan((), ((None, "no usable sender address"),))
    candidates = [target]
    if settings.send_to_cc:
        candidates += [a.address.lower() for a in message.cc]
    recipients: list[str] = []
    suppressed: list[tuple[str | None, str]] = []
    for address in dict.fromkeys(candidates):
        problem = _why_not(address, own_addresses)
        if problem is None:
            recipients.append(address)
        else:
            suppressed.append((address, problem))
    return ReplyPlan(tuple(recipients), tuple(suppressed))
