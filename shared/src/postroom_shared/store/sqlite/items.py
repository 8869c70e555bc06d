"""The items port on SQLite: item numbers, items, thread messages, item queries, the outbox.

Creating an item with its first message, outbox events and processing-log entry, appending a
message with its events, field changes and log entry, or applying a command's change, is one
`BEGIN IMMEDIATE` transaction; the message's primary key (the mail key) or the command's row in
`item_commands` makes the second attempt a no-op, and a change is written only at the version it
was read at.
Each message's blob references go to `message_blobs` in the same transaction, for the blob
collector.
"""

import sqlite3
from collections.abc import Sequence
from typing import Any

from postroom_shared.models import Item, ItemType, ProcessingLogEntry, ThreadMessage
from postroom_shared.store.ports import (
    AppendedMessage,
    ChangeResult,
    ItemChanges,
    ItemQuery,
    NewItem,
    OutboxEvent,
)
from postroom_shared.store.sqlite.base import SqliteBase, iso
from postroom_shared.store.sqlite.ops import insert_log
from postroom_shared.store.sqlite.schema import message_blob_rows

__all__ = ["SqliteItems"]


class SqliteItems(SqliteBase):
    """`ItemStore` on SQLite."""

    async def next_item_number(self, item_type: ItemType) -> int:
        return (await self.next_item_numbers(item_type, 1))[0]

    async def next_item_numbers(self, item_type: ItemType, count: int) -> list[int]:
        if count < 1:
            return []

        def bump(db: sqlite3.Connection) -> int:
            row = db.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET value=value+excluded.value RETURNING value",
                (f"item:{item_type.value}", count),
            ).fetchone()
            return int(row[0])

        last = await self._run(bump)
        return list(range(last - count + 1, last + 1))

    async def item_for_mail(self, mail_key: str) -> Item | None:
        return await self._one(
            Item,
            "SELECT i.doc FROM messages m JOIN items i ON i.id = m.item_id WHERE m.key=?",
            (mail_key,),
        )

    @staticmethod
    def _insert_message(db: sqlite3.Connection, message: ThreadMessage) -> bool:
        """Insert in the caller's transaction; False when the key is there already."""
        cur = db.execute(
            "INSERT INTO messages (key, item_id, account_id, message_id, created_at, doc)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(key) DO NOTHING",
            (
                message.key,
                message.item_id,
                message.account_id,
                message.message_id,
                iso(message.created_at),
                message.model_dump_json(),
            ),
        )
        if cur.rowcount != 1:
            return False
        db.executemany(
            "INSERT OR IGNORE INTO message_blobs (ref, message_key) VALUES (?, ?)",
            message_blob_rows(message),
        )
        return True

    @staticmethod
    def _insert_events(db: sqlite3.Connection, events: list[OutboxEvent]) -> None:
        for event in events:
            db.execute(
                "INSERT INTO outbox (event_id, seq, routing_key, body) VALUES"
                " (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox), ?, ?)"
                " ON CONFLICT(event_id) DO NOTHING",
                (event.event_id, event.routing_key, event.body),
            )

    @classmethod
    def _write_new(cls, db: sqlite3.Connection, write: NewItem) -> bool:
        """`insert_item` in the caller's transaction."""
        item = write.item
        if not cls._insert_message(db, write.message):
            return False
        db.execute(
            "INSERT INTO items (id, item_type, number, created_at, doc) VALUES (?, ?, ?, ?, ?)",
            (
                item.id,
                item.item_type.value,
                item.number,
                iso(item.created_at),
                item.model_dump_json(),
            ),
        )
        cls._insert_events(db, write.events)
        if write.log is not None:
            insert_log(db, write.log)
        return True

    @classmethod
    def _write_appended(cls, db: sqlite3.Connection, write: AppendedMessage) -> bool:
        """`append_message` in the caller's transaction."""
        message, changes = write.message, write.changes
        row = db.execute("SELECT doc FROM items WHERE id=?", (write.item_id,)).fetchone()
        if row is None:
            raise KeyError(write.item_id)
        if not cls._insert_message(db, message):
            return False
        item = Item.model_validate_json(row[0])
        for address in write.add_participants:
            if address not in item.participants:
                item.participants.append(address)
        item.message_count += 1 if write.count else 0
        item.version += 1
        item.updated_at = message.created_at
        if changes is not None:
            item.status = changes.status or item.status
            item.workflow_step = changes.workflow_step or item.workflow_step
            item.bounced += [a for a in changes.bounced if a not in item.bounced]
        db.execute("UPDATE items SET doc=? WHERE id=?", (item.model_dump_json(), write.item_id))
        cls._insert_events(db, write.events)
        if write.log is not None:
            insert_log(db, write.log)
        return True

    async def insert_item(
        self,
        item: Item,
        message: ThreadMessage,
        events: list[OutboxEvent],
        *,
        log: ProcessingLogEntry | None = None,
    ) -> bool:
        write = NewItem(item, message, events, log)
        return await self._run(lambda db: self._tx(db, lambda: self._write_new(db, write)))

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
        write = AppendedMessage(item_id, message, events, add_participants, count, changes, log)
        return await self._run(lambda db: self._tx(db, lambda: self._write_appended(db, write)))

    async def change_applied(self, applied_key: str) -> bool:
        row = await self._run(
            lambda db: db.execute(
                "SELECT 1 FROM item_commands WHERE key=?", (applied_key,)
            ).fetchone()
        )
        return row is not None

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
        def body(db: sqlite3.Connection) -> ChangeResult:
            row = db.execute("SELECT doc FROM items WHERE id=?", (item_id,)).fetchone()
            if row is None:
                raise KeyError(item_id)
            done = db.execute("SELECT 1 FROM item_commands WHERE key=?", (applied_key,))
            if done.fetchone() is not None:
                return "duplicate"
            if Item.model_validate_json(row[0]).version != expected_version:
                return "conflict"
            if message is not None and not self._insert_message(db, message):
                return "duplicate"
            state = new_state.model_copy(update={"id": item_id, "version": expected_version + 1})
            db.execute("UPDATE items SET doc=? WHERE id=?", (state.model_dump_json(), item_id))
            db.execute(
                "INSERT INTO item_commands (key, item_id, at) VALUES (?, ?, ?)",
                (applied_key, item_id, iso(state.updated_at)),
            )
            self._insert_events(db, events)
            return "applied"

        return await self._run(lambda db: self._tx(db, lambda: body(db)))

    # reading -------------------------------------------------------------------------------
    async def _one_item(self, sql: str, args: tuple[Any, ...]) -> Item | None:
        return await self._one(Item, sql, args)

    async def get_item(self, item_id: str) -> Item | None:
        return await self._one_item("SELECT doc FROM items WHERE id=?", (item_id,))

    async def find_item_by_number(self, item_type: ItemType, number: int) -> Item | None:
        return await self._one_item(
            "SELECT doc FROM items WHERE item_type=? AND number=?", (item_type.value, number)
        )

    async def find_item_by_message_ids(
        self, account_id: str, message_ids: list[str]
    ) -> Item | None:
        ids = [mid for mid in message_ids if mid][:100]
        if not ids:
            return None
        marks = ",".join("?" * len(ids))
        # Only '?' placeholders are interpolated; the values are bound parameters.
        sql = (
            "SELECT i.doc FROM messages m JOIN items i ON i.id = m.item_id"  # noqa: S608
            f" WHERE m.account_id=? AND m.message_id IN ({marks})"
            " ORDER BY m.created_at DESC LIMIT 1"
        )
        return await self._one_item(sql, (account_id, *ids))

    async def query_items(self, query: ItemQuery) -> list[Item]:
        q = query
        before_at, before_id = (iso(q.before[0]), q.before[1]) if q.before else (None, None)
        args = (
            q.account_id,
            q.item_type.value if q.item_type else None,
            q.status,
            q.project,
            q.requester.lower() if q.requester else None,
            q.requester,
            q.text.lower() if q.text else None,
            before_at,
            before_id,
            q.limit,
        )
        # One fixed statement: every filter is a bound parameter that NULL switches off.
        sql = (
            "SELECT doc FROM items WHERE (?1 IS NULL OR json_extract(doc, '$.account_id') = ?1)"
            " AND (?2 IS NULL OR item_type = ?2)"
            " AND (?3 IS NULL OR json_extract(doc, '$.status') = ?3)"
            " AND (?4 IS NULL OR json_extract(doc, '$.project') = ?4)"
            " AND (?5 IS NULL OR lower(json_extract(doc, '$.requester.address')) = ?5"
            "      OR json_extract(doc, '$.requester_id') = ?6)"
            " AND (?7 IS NULL OR instr(lower(json_extract(doc, '$.title')), ?7) > 0)"
            " AND (?8 IS NULL OR created_at < ?8 OR (created_at = ?8 AND id < ?9))"
            " ORDER BY created_at DESC, id DESC LIMIT ?10"
        )
        return await self._all(Item, sql, args)

    async def list_messages(self, item_id: str) -> list[ThreadMessage]:
        return await self._all(
            ThreadMessage,
            "SELECT doc FROM messages WHERE item_id=? ORDER BY created_at, key",
            (item_id,),
        )

    # outbox --------------------------------------------------------------------------------
    async def pending_events(self, *, limit: int = 100) -> list[OutboxEvent]:
        rows = await self._run(
            lambda db: db.execute(
                "SELECT event_id, routing_key, body FROM outbox ORDER BY seq LIMIT ?", (limit,)
            ).fetchall()
        )
        return [OutboxEvent(event_id=r[0], routing_key=r[1], body=r[2]) for r in rows]

    async def mark_published(self, event_id: str) -> None:
        await self._run(lambda db: db.execute("DELETE FROM outbox WHERE event_id=?", (event_id,)))

    async def mark_all_published(self, event_ids: Sequence[str]) -> None:
        def delete(db: sqlite3.Connection) -> None:
            # one transaction: on this autocommit connection each DELETE would be one of its own
            self._tx(
                db,
                lambda: db.executemany(
                    "DELETE FROM outbox WHERE event_id=?", [(e,) for e in event_ids]
                ),
            )

        if event_ids:
            await self._run(delete)
