"""Who gets a notification about an item event (docs/features.md F6).

The item's notification list hears about new mail on the item, except: the person who wrote
it, automatic mail (out-of-office, bounces, lists: nothing a person needs to act on), our own or
daemon addresses, and new items when the account says the auto-reply already told everybody.
"""

from typing import Literal

from postroom_replier.domain.loop_rules import NOREPLY_RE, ReplyPlan
from postroom_shared.contracts import MessageRefV1
from postroom_shared.models import Item

__all__ = ["plan_notifications"]


def plan_notifications(
    *,
    item: Item,
    event: Literal["created", "updated"],
    message: MessageRefV1,
    own_addresses: set[str],
) -> ReplyPlan:
    if not item.notify:
        return ReplyPlan(())
    if event == "created" and not item.notify_on_create:
        why = "no separate notification for new items from mail (the auto-reply told them)"
        return ReplyPlan((), ((None, why),))
    if message.classification.kind != "normal":
        return ReplyPlan((), ((None, f"inbound mail is {message.classification.kind}"),))
    author = message.sender.address.lower() if message.sender else ""
    recipients: list[str] = []
    suppressed: list[tuple[str | None, str]] = []
    for address in dict.fromkeys(a.lower() for a in item.notify):
        if address == author:
            suppressed.append((address, "the recipient wrote this mail"))
        elif address in own_addresses:
            suppressed.append((address, "recipient is one of our own addresses"))
        elif NOREPLY_RE.match(address):
            suppressed.append((address, "recipient looks like a daemon or no-reply address"))
        else:
            recipients.append(address)
    return ReplyPlan(tuple(recipients), tuple(suppressed))
