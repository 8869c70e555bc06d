"""Many mails in one store call: the items role's batch port, for the converter's group commit.

Handlers that convert mails side by side hand their writes to one batch
(`postroom_shared/coalescing.py`), so what a call costs beyond its rows (a thread hop and a
commit on SQLite, a round trip on MongoDB) is paid once per batch instead of once per mail
(docs/architecture.md, "Message flow and ack policy"). Each write means exactly what the
single call means (`ItemWriter.insert_item`, `ThreadWriter.append_message`): keyed by the mail
key, a no-op the second time. One write that fails does not fail the others: its exception is
its result.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from postroom_shared.models import Item, ProcessingLogEntry, ThreadMessage
from postroom_shared.store.ports.values import ItemChanges, OutboxEvent

__all__ = ["AppendedMessage", "ItemBatches", "MailWrite", "NewItem", "WriteResult"]


@dataclass(frozen=True)
class NewItem:
    """`insert_item(item, message, events, log=log)` as one write of a batch."""

    item: Item
    message: ThreadMessage
    events: list[OutboxEvent]
    log: ProcessingLogEntry | None = None


@dataclass(frozen=True)
class AppendedMessage:
    """`append_message(item_id, message, events, ...)` as one write of a batch."""

    item_id: str
    message: ThreadMessage
    events: list[OutboxEvent]
    add_participants: list[str] = field(default_factory=list)
    count: bool = True
    changes: ItemChanges | None = None
    log: ProcessingLogEntry | None = None


type MailWrite = NewItem | AppendedMessage
# True: written; False: this mail was applied before (nothing written); an exception: this
# write failed (KeyError: no such item), the others are not affected.
type WriteResult = bool | Exception


class ItemBatches(Protocol):
    async def write_mails(self, writes: Sequence[MailWrite]) -> list[WriteResult]:
        """Every write in one call (SQLite: one transaction, each write in a savepoint of its
        own; MongoDB: one bulk write per collection, thread messages first), results in order."""
        ...

    async def items_for_mails(self, mail_keys: Sequence[str]) -> dict[str, Item]:
        """`item_for_mail` for many keys at once: the keys already applied, with their item."""
        ...
