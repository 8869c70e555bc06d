"""What the rules decide for one mail, before anything is written.

A decision is pure data: the service applies it (store writes, events) and reports an
`outcome.Outcome`, which can differ (a `Create` raced by a redelivery ends as a `Duplicate`).
"""

from dataclasses import dataclass

from postroom_shared.contracts import ClassificationV1
from postroom_shared.models import Item

__all__ = ["Create", "Decision", "Ignore", "Quarantine", "Thread", "why"]


@dataclass(frozen=True)
class Create:
    """Open a new item for the mail."""

    reason: str  # why no existing item takes it


@dataclass(frozen=True)
class Thread:
    """Append the mail to `item`'s thread."""

    item: Item
    reason: str  # which threading rule matched


@dataclass(frozen=True)
class Ignore:
    """Log and announce the mail as ignored; no item changes."""

    reason: str


@dataclass(frozen=True)
class Quarantine:
    """Keep the mail aside for a human, who can inspect and reprocess it."""

    reason: str


Decision = Create | Thread | Ignore | Quarantine


def why(classification: ClassificationV1) -> str:
    """The signals behind a classification, for a reason line."""
    return "; ".join(classification.reasons) or classification.kind
