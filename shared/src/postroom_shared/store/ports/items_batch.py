"""Many mails in one store call: the items role's batch port, for the converter's group commit.

Handlers that convert mails side by side hand their writes to one batch
(`postroom_shared/coalescing.py`), so what a call costs beyond its rows (a thread hop and a
commit on SQLite, a round trip on MongoDB) is paid once per batch instead of once per mail
(docs/architecture.md, "Message flow and ack policy"). Each write means exactly what the
single call means (`ItemWriter.insert_item`, `ThreadWriter.append_message`): keyed by the mail
key, a no-op the second time. One write that fails does not fail the others: its exception is
its result.

A new item may bring the contact its requester is (an unknown sender the account records,
`NewItem.contact`): stored in the same call (on SQLite the same transaction) instead of a
transaction of its own before it, with what `Contacts.ensure_contact` guarantees: the
address gets one owner. When the address found another owner since the caller looked (a
person created in between), the write fails with `ContactClash` and nothing of it is stored:
tried again, the caller finds that owner.

A write may also bring the bytes its message references (`blobs`: the raw mail the converter
received inline): `put_blob` for each, with the write instead of a call before it; on SQLite a
small blob is a row in the write's transaction, so the reference and its bytes commit together
(a larger one is stored before the transaction, as `put_blob` would). The caller names them
beforehand (`blob_ref` of their sha256, what `put_blob` returns).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from postroom_shared.models import Item, Person, ProcessingLogEntry, ThreadMessage
from postroom_shared.store.ports.values import ItemChanges, OutboxEvent

__all__ = [
    "AppendedMessage",
    "ContactClash",
    "ItemBatches",
    "MailWrite",
    "NewItem",
    "WriteResult",
]


class ContactClash(Exception):
    """A new item's contact could not be stored: its address belongs to another person now.
    Nothing of the write was stored; tried again, the caller finds that person."""


@dataclass(frozen=True)
class NewItem:
    """`insert_item(item, message, events, log=log)` as one write of a batch; with `contact`,
    `ensure_contact(contact)` first, in the same transaction (SQLite), and the write fails with
    `ContactClash` when the address has another owner; with `blobs`, `put_blob` for each."""

    item: Item
    message: ThreadMessage
    events: list[OutboxEvent]
    log: ProcessingLogEntry | None = None
    contact: Person | None = None
    blobs: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class AppendedMessage:
    """`append_message(item_id, message, events, ...)` as one write of a batch; with `blobs`,
    `put_blob` for each, with the write."""

    item_id: str
    message: ThreadMessage
    events: list[OutboxEvent]
    add_participants: list[str] = field(default_factory=list)
    count: bool = True
    changes: ItemChanges | None = None
    log: ProcessingLogEntry | None = None
    blobs: tuple[bytes, ...] = ()


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
