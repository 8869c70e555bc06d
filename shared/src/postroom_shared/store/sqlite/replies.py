"""The replies port on SQLite: the reply ledger and the history of automatic mail.

A ledger claim reads and writes its row in one `BEGIN IMMEDIATE` transaction, so of two
concurrent claims (two replicas, a redelivery) exactly one wins. What one automatic mail needs
before its claim (`check_send`) and after SMTP accepted it (`finish_send`) is one call each: every
call is a hop to the store's thread, which cost more than the queries. The plural calls run
many mails' steps on one hop, claims and finishes in one transaction (group commit).
"""

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from postroom_shared.models import LedgerEntry, ProcessingLogEntry, SendRecord, utcnow
from postroom_shared.store.ports.replies import (
    Claim,
    FinishedSend,
    SendCheck,
    SendQuery,
    SendWindow,
)
from postroom_shared.store.sqlite.base import SqliteBase, iso
from postroom_shared.store.sqlite.ops import insert_log

__all__ = ["SqliteReplies"]

_LEDGER = "SELECT doc FROM ledger WHERE item_id=? AND reason=? AND recipient=?"
_HISTORY = "SELECT doc FROM sends WHERE recipient=? AND at >= ? ORDER BY at"


_COUNT = "SELECT COUNT(*) FROM (SELECT 1 FROM sends WHERE at >= ?1 LIMIT ?2)"
# `sends_domain_at` indexes exactly this expression: the count reads the domain's sends in the
# window, not every send in it
_COUNT_DOMAIN = (
    "SELECT COUNT(*) FROM (SELECT 1 FROM sends WHERE"
    " substr(recipient, instr(recipient, '@') + 1) = ?3 AND at >= ?1 LIMIT ?2)"
)


def _count(db: sqlite3.Connection, since: datetime, domain: str | None, limit: int) -> int:
    """Sends since `since` (to `domain`), counted up to `limit`: a range of an index either
    way (`sends_at`, which covers it, or `sends_domain_at`), at most `limit` entries long."""
    if domain:
        row = db.execute(_COUNT_DOMAIN, (iso(since), limit, domain.lower())).fetchone()
    else:
        row = db.execute(_COUNT, (iso(since), limit)).fetchone()
    return int(row[0])


def _check(
    db: sqlite3.Connection, key: tuple[str, str, str], window: SendWindow | None
) -> SendCheck:
    row = db.execute(_LEDGER, key).fetchone()
    if row is not None or window is None:
        return SendCheck(LedgerEntry.model_validate_json(row[0]) if row else None)
    recipient = key[2]
    rows = db.execute(_HISTORY, (recipient, iso(window.since))).fetchall()
    domain = recipient.rsplit("@", 1)[-1]
    return SendCheck(
        None,
        [SendRecord.model_validate_json(doc) for (doc,) in rows],
        _count(db, window.budget_since, None, window.budget) if window.budget else 0,
        _count(db, window.budget_since, domain, window.domain_budget)
        if window.domain_budget
        else 0,
    )


class SqliteReplies(SqliteBase):
    """`ReplyStore` on SQLite."""

    async def get_ledger(self, item_id: str, reason: str, recipient: str) -> LedgerEntry | None:
        return await self._one(LedgerEntry, _LEDGER, (item_id, reason, recipient))

    async def check_send(
        self, item_id: str, reason: str, recipient: str, window: SendWindow | None
    ) -> SendCheck:
        return await self._run(lambda db: _check(db, (item_id, reason, recipient), window))

    async def claim_ledger(self, entry: LedgerEntry, *, stale_before: datetime) -> Claim:
        [claim] = await self.claim_ledgers([entry], stale_before=stale_before)
        return claim

    async def claim_ledgers(
        self, entries: Sequence[LedgerEntry], *, stale_before: datetime
    ) -> list[Claim]:
        def body(db: sqlite3.Connection) -> list[Claim]:
            return [_claim(db, entry, stale_before) for entry in entries]

        return await self._run(lambda db: self._tx(db, lambda: body(db)))

    async def check_sends(self, queries: Sequence[SendQuery]) -> list[SendCheck]:
        return await self._run(
            lambda db: [_check(db, (q.item_id, q.reason, q.recipient), q.window) for q in queries]
        )

    async def mark_done(self, entry: LedgerEntry, state: Literal["sent", "failed"]) -> None:
        sent = entry.model_copy(update={"state": state, "sent_at": entry.sent_at or utcnow()})
        await self._run(
            lambda db: db.execute(
                "UPDATE ledger SET doc=? WHERE item_id=? AND reason=? AND recipient=?",
                (sent.model_dump_json(), entry.item_id, entry.reason, entry.recipient),
            )
        )

    async def finish_send(
        self, entry: LedgerEntry, record: SendRecord, log: ProcessingLogEntry | None
    ) -> None:
        await self.finish_sends([FinishedSend(entry, record, log)])

    async def finish_sends(self, sends: Sequence[FinishedSend]) -> None:
        def body(db: sqlite3.Connection) -> None:
            for send in sends:
                _finish(db, send)

        await self._run(lambda db: self._tx(db, lambda: body(db)))

    # automatic mail history ----------------------------------------------------------------
    async def record_send(self, record: SendRecord) -> None:
        await self._run(lambda db: _insert_send(db, record))

    async def sends_since(self, recipient: str, since: datetime) -> list[SendRecord]:
        return await self._all(SendRecord, _HISTORY, (recipient, iso(since)))

    async def count_sends_since(
        self, since: datetime, *, domain: str | None = None, limit: int
    ) -> int:
        return await self._run(lambda db: _count(db, since, domain, limit))

    async def account_sends_since(
        self, account_id: str, since: datetime, *, limit: int
    ) -> list[SendRecord]:
        return await self._all(
            SendRecord,
            "SELECT doc FROM sends WHERE at >= ? AND json_extract(doc, '$.account_id') = ?"
            " ORDER BY at LIMIT ?",
            (iso(since), account_id, limit),
        )


def _claim(db: sqlite3.Connection, entry: LedgerEntry, stale_before: datetime) -> Claim:
    key = (entry.item_id, entry.reason, entry.recipient)
    row = db.execute(_LEDGER, key).fetchone()
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


def _finish(db: sqlite3.Connection, send: FinishedSend) -> None:
    entry = send.entry
    sent = entry.model_copy(update={"state": "sent", "sent_at": entry.sent_at or utcnow()})
    marked = db.execute(
        "UPDATE ledger SET doc=? WHERE item_id=? AND reason=? AND recipient=?"
        " AND json_extract(doc, '$.state') = 'sending'",
        (sent.model_dump_json(), entry.item_id, entry.reason, entry.recipient),
    )
    if marked.rowcount:  # a repeat finds it sent, and its record kept already
        _insert_send(db, send.record)
    if send.log is not None:
        insert_log(db, send.log)


def _insert_send(db: sqlite3.Connection, record: SendRecord) -> None:
    db.execute(
        "INSERT INTO sends (recipient, at, doc) VALUES (?, ?, ?)",
        (record.recipient, iso(record.at), record.model_dump_json()),
    )
