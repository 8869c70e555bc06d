"""automatic-without-item: automatic mail that belongs to no item is ignored.

Auto-replies, out-of-office notices and bounces are threaded when they answer an item's mail,
but they never open an item: nobody is asking for anything.
"""

from postroom_converter.domain.decision import Ignore, why
from postroom_converter.domain.rules.facts import Placement
from postroom_shared.contracts import MailKind

__all__ = ["NAME", "NEVER_NEW_ITEMS", "check"]

NAME = "automatic-without-item"

NEVER_NEW_ITEMS: frozenset[MailKind] = frozenset({"auto_reply", "out_of_office", "bounce"})


def check(facts: Placement) -> Ignore | None:
    kind = facts.classification.kind
    if kind not in NEVER_NEW_ITEMS or facts.thread.item is not None:
        return None
    return Ignore(f"{kind} mail that belongs to no item: {why(facts.classification)}")
