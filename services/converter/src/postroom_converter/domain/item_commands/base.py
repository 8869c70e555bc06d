"""What every item command shares: the context it is decided in, the change it yields, and the
ways it is refused.

A command module is a pure function (item, command, context) -> Change: no store, no broker,
no clock of its own. The service gathers the context (the item's workflow, the person named,
the account and thread for a reply) and writes the change in one store call.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from postroom_shared.contracts import ItemChange, ItemCommandEnvelope
from postroom_shared.models import (
    EmailAccount,
    Item,
    Person,
    StoredAttachment,
    ThreadMessage,
    Workflow,
)

__all__ = [
    "Change",
    "CommandRejected",
    "Context",
    "ReplyContext",
    "VersionConflict",
    "check_version",
    "next_state",
]


class CommandRejected(Exception):
    """The command cannot be applied as asked; `reason` says why, for the caller."""

    conflict = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class VersionConflict(CommandRejected):
    """The item changed since the caller read it: re-read and ask again."""

    conflict = True


@dataclass(frozen=True)
class ReplyContext:
    """What a team reply needs beyond the item: the account it is sent from, the Message-ID the
    owner made for it, the last inbound mail it answers, its attachments as stored."""

    account: EmailAccount
    message_id: str
    last_inbound: ThreadMessage | None = None
    attachments: tuple[StoredAttachment, ...] = ()


@dataclass(frozen=True)
class Context:
    """Everything a command is decided with, read by the service before deciding."""

    now: datetime
    workflow: Workflow | None = None
    person: Person | None = None  # the person a command names (the assignee), when found
    reply: ReplyContext | None = None


@dataclass(frozen=True)
class Change:
    """The item's next state, what changed (the event's `changes`), and a thread entry."""

    item: Item
    changes: tuple[ItemChange, ...]
    message: ThreadMessage | None = None


def check_version(item: Item, command: ItemCommandEnvelope) -> None:
    """Optimistic concurrency: a caller that names a version must have seen the current one."""
    expected = command.expected_version
    if expected is not None and expected != item.version:
        raise VersionConflict(f"item {item.id} is at version {item.version}, not {expected}")


def next_state(item: Item, now: datetime, **updates: Any) -> Item:
    """The item after a change: one version more, touched now."""
    return item.model_copy(update={**updates, "version": item.version + 1, "updated_at": now})
