"""The items port: work items, their numbers, their threads and the outbox of their events.

An item, its thread messages and the events a change causes are written together (one
transaction on SQLite, one document update on MongoDB: docs/architecture.md, "Storage"), so
they are one port. Every write takes the mail key (or the command's key) with it and is a no-op
the second time, so a redelivered mail or command is harmless; every write adds one to the
item's `version`, which a command's change checks (`ItemChanger`). Readers (the API, previews)
need only `ItemReader`; the relay needs only `Outbox`.
"""

from collections.abc import Sequence
from typing import Literal, Protocol

from postroom_shared.models import Item, ItemType, ProcessingLogEntry, ThreadMessage
from postroom_shared.store.ports.values import ItemChanges, ItemQuery, OutboxEvent

__all__ = [
    "ChangeResult",
    "ItemChanger",
    "ItemReader",
    "ItemStore",
    "ItemWriter",
    "Outbox",
    "ThreadWriter",
]

# applied: written; duplicate: this change was applied before (nothing written again);
# conflict: the item is no longer at the expected version (nothing written; re-read).
ChangeResult = Literal["applied", "duplicate", "conflict"]


class ItemReader(Protocol):
    async def get_item(self, item_id: str) -> Item | None: ...
    async def find_item_by_number(self, item_type: ItemType, number: int) -> Item | None: ...
    async def find_item_by_message_ids(
        self, account_id: str, message_ids: list[str]
    ) -> Item | None: ...
    async def item_for_mail(self, mail_key: str) -> Item | None:
        """The item this mail was already applied to, if any (the idempotency check)."""
        ...

    async def query_items(self, query: ItemQuery) -> list[Item]:
        """Items matching `query`, newest first (created_at, id descending), after the cursor."""
        ...

    async def list_messages(self, item_id: str) -> list[ThreadMessage]: ...


class ThreadWriter(Protocol):
    async def append_message(
        self,
        item_id: str,
        message: ThreadMessage,
        events: list[OutboxEvent],
        *,
        add_participants: list[str],
        count: bool = True,
        changes: ItemChanges | None = None,
        log: ProcessingLogEntry | None = None,
    ) -> bool:
        """Append a message to an item's thread once per message key, with its outbox events
        and field `changes`; False if already appended (then nothing changes). `log` is
        recorded like `ProcessingLog.put_log`, with the append (see `insert_item`)."""
        ...


class ItemChanger(Protocol):
    """Changes made by item commands: the whole next state of the item, written only if the
    item is still at the version it was read at (optimistic concurrency), once per key."""

    async def change_applied(self, applied_key: str) -> bool:
        """True when a change with `applied_key` was written before."""
        ...

    async def apply_change(
        self,
        item_id: str,
        *,
        expected_version: int,
        applied_key: str,
        new_state: Item,
        message: ThreadMessage | None,
        events: list[OutboxEvent],
    ) -> ChangeResult:
        """In one atomic write: replace the item's fields with `new_state` (whose version is
        `expected_version` + 1), add `message` to its thread, queue `events` in the outbox and
        remember `applied_key`. KeyError when there is no such item."""
        ...


class ItemWriter(ThreadWriter, ItemChanger, Protocol):
    async def next_item_number(self, item_type: ItemType) -> int:
        """Allocate the next number of `item_type` (gaps possible after crashes, never reuse)."""
        ...

    async def next_item_numbers(self, item_type: ItemType, count: int) -> list[int]:
        """Allocate `count` consecutive numbers of `item_type` at once (never handed out twice,
        like `next_item_number`); none for a count below 1."""
        ...

    async def insert_item(
        self,
        item: Item,
        message: ThreadMessage,
        events: list[OutboxEvent],
        *,
        log: ProcessingLogEntry | None = None,
    ) -> bool:
        """Create `item` with its first message and outbox events; False if the mail was
        already applied (nothing changes then, `log` included).

        `log`, the processing-log entry saying so, is recorded like `ProcessingLog.put_log`
        (first record per id wins) by the same call: in the same transaction on SQLite, so
        the item and its log entry cannot part; right after the item on MongoDB."""
        ...


class Outbox(Protocol):
    """Events written with the change that caused them, published afterwards by a relay."""

    async def pending_events(self, *, limit: int = 100) -> list[OutboxEvent]: ...
    async def mark_published(self, event_id: str) -> None: ...
    async def mark_all_published(self, event_ids: Sequence[str]) -> None:
        """`mark_published` for many events in one call."""
        ...


class ItemStore(ItemReader, ItemWriter, Outbox, Protocol):
    """Items, threads and their outbox: what the converter owns."""
