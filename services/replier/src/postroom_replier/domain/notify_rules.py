"""Who gets a notification about an item event, and which event it is (docs/features.md F6;
README "Work an item").

The item's notification list hears about a new item (unless the account says the auto-reply
already told everybody), new mail on the item, a change of status or workflow step, and a
reply the team sent. Never: the person who caused the change (the mail's author, the user or
address of the actor), the people the team reply itself went to, automatic mail's changes
(out-of-office, bounces, lists: nothing a person needs to act on), our own or daemon
addresses, and never twice for one change (`ledger_reason` keys the ledger by the change).
Other changes (assignee, priority, fields, the list itself, internal notes) notify nobody.
"""

from collections.abc import Collection, Mapping
from typing import Literal

from postroom_replier.domain.loop_rules import NOREPLY_RE, ReplyPlan
from postroom_shared.contracts import MessageRefV1
from postroom_shared.models import BounceMark, Item, NotifyEvent

__all__ = [
    "ACTOR",
    "BOUNCED",
    "REPLY_RECIPIENT",
    "bounce_note",
    "ledger_reason",
    "not_to",
    "notify_event",
    "plan_notifications",
    "without_bounced",
]

ACTOR = "the recipient made this change"
REPLY_RECIPIENT = "the recipient got the team reply itself"
BOUNCED = "bounced_address"


def notify_event(created: bool, changes: Collection[str]) -> NotifyEvent | None:
    """The one notification event an item event is (one change, one notification): a team
    reply, else new mail (a mail that also moved the status is news about the mail), else a
    status or step change; None for changes nobody is notified about."""
    if created:
        return "item_created"
    if "reply_added" in changes:
        return "team_reply"
    if "message_appended" in changes:
        return "mail_update"
    if "status" in changes or "workflow_step" in changes:
        return "status_changed"
    return None


def ledger_reason(
    kind: Literal["notification", "auto_reply"],
    event: NotifyEvent,
    *,
    mail_key: str | None,
    change_id: str,
) -> str:
    """The ledger's reason for one mail about one change: per mail for mail (the key mail
    notifications always had, so a redelivery across an upgrade sends nothing twice), else per
    change (the command id, or the event id when no command caused it)."""
    if mail_key is not None and event in ("item_created", "mail_update"):
        return f"{kind}:{mail_key}"
    return f"{kind}:{event}:{change_id}"


def not_to(
    *, actor_addresses: Collection[str], reply_recipients: Collection[str]
) -> dict[str, str]:
    """Addresses that must not be notified of this change, and why."""
    excluded = {a.lower(): REPLY_RECIPIENT for a in reply_recipients}
    excluded.update({a.lower(): ACTOR for a in actor_addresses})
    return excluded


def plan_notifications(
    *,
    item: Item,
    event: NotifyEvent,
    message: MessageRefV1 | None,
    own_addresses: set[str],
    excluded: Mapping[str, str] | None = None,
) -> ReplyPlan:
    """Who on `item`'s notification list hears of `event`, and who does not and why.
    `message` is the mail that caused it (None for a change made by a person or a service);
    `excluded` names further addresses that must not hear of it (`not_to`)."""
    if not item.notify:
        return ReplyPlan(())
    if event == "item_created" and not item.notify_on_create:
        why = "no separate notification for new items from mail (the auto-reply told them)"
        return ReplyPlan((), ((None, why),))
    if message is not None and message.classification.kind != "normal":
        return ReplyPlan((), ((None, f"inbound mail is {message.classification.kind}"),))
    author = message.sender.address.lower() if message and message.sender else ""
    recipients: list[str] = []
    suppressed: list[tuple[str | None, str]] = []
    for address in dict.fromkeys(a.lower() for a in item.notify):
        if address == author:
            suppressed.append((address, "the recipient wrote this mail"))
        elif excluded and address in excluded:
            suppressed.append((address, excluded[address]))
        elif address in own_addresses:
            suppressed.append((address, "recipient is one of our own addresses"))
        elif NOREPLY_RE.match(address):
            suppressed.append((address, "recipient looks like a daemon or no-reply address"))
        else:
            recipients.append(address)
    return ReplyPlan(tuple(recipients), tuple(suppressed))


def without_bounced(plan: ReplyPlan, bounced: Mapping[str, str]) -> ReplyPlan:
    """`plan` without the recipients whose address bounced before (address -> what the mark
    says): automatic mail to them is suppressed until an admin clears the mark."""
    kept = tuple(r for r in plan.recipients if r not in bounced)
    held = tuple((r, f"{BOUNCED}: {bounced[r]}") for r in plan.recipients if r in bounced)
    return ReplyPlan(kept, plan.suppressed + held)


def bounce_note(mark: BounceMark) -> str:
    """What a bounce mark says, for the suppression's `why` and the log."""
    what = " ".join(part for part in (mark.code, mark.reason) if part) or "hard bounce"
    return f"{what} (bounced {mark.at:%Y-%m-%d})"
