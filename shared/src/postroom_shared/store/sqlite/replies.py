"""The replies port on SQLite: the reply ledger and the history of automatic mail.

A ledger claim reads and writes its row in one `BEGIN IMMEDIATE` transaction, so of two
concurrent claims (two replicas, a redelivery) exactly one wins.
"""

import sqlite3
from datetime import datetime
from typing import Literal

from postroom_shared.models import LedgerEntry, SendRecord, utcnow
from postroom_shared.store.sqlite.base import SqliteBase, iso

__all__ = ["SqliteReplies"]


class SqliteReplies(SqliteBase):
    """`ReplyStore` on SQLite."""

    async def get_ledger(self, item_id: str, reason: str, recipient: str) -> LedgerEntry | None:
        return await self._one(
            LedgerEntry,
            "SELECT doc FROM ledger WHERE item_id=? AND reason=? AND recipient=?",
            (item_id, reason, recipient),
        )

    async def claim_ledger(
        self, entry: LedgerEntry, *, stale_before: datetime
    ) -> Literal["claimed", "done", "busy"]:
        key = (entry.item_id, entry.reason, entry.recipient)

        def body(db: sqlite3.Connection) -> Literal["claimed", "done", "busy"]:
            row = db.execute(
                "SELECT doc FROM ledger WHERE item_id=? AND reason=? AND recipient=?", key
            ).fetchone()
            if row is not None:
                held = LedgerEntry.model_validate_json(row[0])
                if held.state != "sending":
                    return "done"
                if held.claimed_at >= stale_before:
                    return "busy"
            db.execute(
                "INSERT INTO ledger (item_id, reason, recipient, doc) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(item_id, reason, recipient) DO UPDATE SET doc=excluded.doc",
                (*key, entry.model_dump_json()),
            )
            return "claimed"

        return await self._run(lambda db: self._tx(db, lambda: body(db)))

    async def mark_done(self, entry: LedgerEntry, state: Literal["sent", "failed"]) -> None:
        sent = entry.model_copy(update={"state": state, "sent_at": entry.sent_at or utcnow()})
        await self._run(
            lambda db: db.execute(
                "UPDATE ledger SET doc=? WHERE item_id=? AND reason=? AND recipient=?",
                (sent.model_dump_json(), entry.item_id, entry.reason, entry.recipient),
            )
        )

    # automatic mail history ----------------------------------------------------------------
    async def record_send(self, record: SendRecord) -> None:
        await self._run(
            lambda db: db.execute(
                "INSERT INTO sends (recipient, at, doc) VALUES (?, ?, ?)",
                (record.recipient, iso(record.at), record.model_dump_json()),
            )
        )

    async def sends_since(self, recipient: str, since: datetime) -> list[SendRecord]:
        return await self._all(
            SendRecord,
            "SELECT doc FROM sends WHERE recipient=? AND at >= ? ORDER BY at",
            (recipient, iso(since)),
        )

    async def count_sends_since(
        self, since: datetime, *, domain: str | None = None, limit: int
    ) -> int:
        # the window holds at most about the global budget of rows, so filtering the domain
        # row by row stays cheap
        row = await self._run(
            lambda db: db.execute(
                "SELECT COUNT(*) FROM (SELECT 1 FROM sends WHERE at >= ?1 AND (?2 IS NULL OR"
                " substr(recipient, instr(recipient, '@') + 1) = ?2) LIMIT ?3)",
                (iso(since), domain.lower() if domain else None, limit),
            ).fetchone()
        )
        return int(row[0])

    async def account_sends_since(
        self, account_id: str, since: datetime, *, limit: int
    ) -> list[SendRecord]:
        return await self._all(
            SendRecord,
            "SELECT doc FROM sends WHERE at >= ? AND json_extract(doc, '$.account_id') = ?"
            " ORDER BY at LIMIT ?",
            (iso(since), account_id, limit),
        )
