"""thread-or-create: every mail no earlier rule stopped joins the item it belongs to, or
opens one.

Which item it belongs to is `domain/threading.py`'s decision (signed Message-ID, then the
subject token from a participant, then the references); this rule always answers.
"""

from postroom_converter.domain.decision import Create, Thread
from postroom_converter.domain.rules.facts import Placement

__all__ = ["NAME", "check"]

NAME = "thread-or-create"


def check(facts: Placement) -> Thread | Create:
    thread = facts.thread
    return Thread(thread.item, thread.reason) if thread.item else Create(thread.reason)
