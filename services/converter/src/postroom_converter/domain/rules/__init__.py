"""The converter's decision rules, one per module (as GNU Mailman's rules): each has a `NAME`,
a docstring saying what it decides and why, and a pure `check(facts)` that returns a
`Decision` or None (no opinion).

They run in this order, by stage, and the first answer wins:

1. on arrival, before the mail is read: `unknown_account`;
2. on content, once the mail is analysed and before any threading query: `unreadable`,
   `own_loop`;
3. on placement, once the store named the items the mail may belong to:
   `automatic_without_item`, then `thread_or_create`, which always answers.

The service gathers each stage's facts, asks, and applies the answer; it decides nothing.
"""

from collections.abc import Sequence
from typing import Protocol

from postroom_converter.domain.decision import Create, Ignore, Quarantine, Thread
from postroom_converter.domain.rules import (
    automatic_without_item,
    own_loop,
    thread_or_create,
    unknown_account,
    unreadable,
)
from postroom_converter.domain.rules.facts import Arrival, Content, Placement

__all__ = [
    "ON_ARRIVAL",
    "ON_CONTENT",
    "ON_PLACEMENT",
    "Arrival",
    "Content",
    "Placement",
    "Stop",
    "on_arrival",
    "on_content",
    "on_placement",
]


class _Rule[F, D](Protocol):
    NAME: str

    def check(self, facts: F, /) -> D | None: ...


# Before the threading lookup a rule can only stop the mail.
type Stop = Ignore | Quarantine

ON_ARRIVAL: tuple[_Rule[Arrival, Stop], ...] = (unknown_account,)
ON_CONTENT: tuple[_Rule[Content, Stop], ...] = (unreadable, own_loop)
ON_PLACEMENT: tuple[_Rule[Placement, Ignore | Thread | Create], ...] = (
    automatic_without_item,
    thread_or_create,
)


def _first[F, D](rules: Sequence[_Rule[F, D]], facts: F) -> D | None:
    for rule in rules:
        decision = rule.check(facts)
        if decision is not None:
            return decision
    return None


def on_arrival(facts: Arrival) -> Stop | None:
    """Stop the mail before it is read, or None to go on."""
    return _first(ON_ARRIVAL, facts)


def on_content(facts: Content) -> Stop | None:
    """Stop the mail by what it says, or None to go on to the threading lookup."""
    return _first(ON_CONTENT, facts)


def on_placement(facts: Placement) -> Ignore | Thread | Create:
    """Where the mail goes: ignored, onto an item's thread, or a new item (the last rule,
    `thread_or_create`, always answers)."""
    return _first(ON_PLACEMENT[:-1], facts) or thread_or_create.check(facts)
