"""The operations port on SQLite: the quarantine, the processing log, the heartbeats and the
dashboard's activity counts."""

import sqlite3
from datetime import datetime

from postroom_shared.models import ProcessingLogEntry, QuarantineEntry, ServiceHeartbeat
from postroom_shared.store.ports.values import (
    BUCKET_FORMATS,
    ActivityBucket,
    ActivityCount,
    activity_counts,
)
from postroom_shared.store.sqlite.base import SqliteBase, iso

__all__ = ["SqliteOps", "insert_log"]


def insert_log(db: sqlite3.Connection, entry: ProcessingLogEntry) -> None:
    """Record a processing step, in the caller's transaction if it has one; the same id
    twice keeps the first record (the items role writes an item's entry with the item, the
    replies role a send's entry with its ledger mark)."""
    db.execute(
        "INSERT INTO processing_log (id, account_id, mail_key, at, doc)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING",
        (entry.id, entry.account_id, entry.mail_key, iso(entry.at), entry.model_dump_json()),
    )


class SqliteOps(SqliteBase):
    """`OpsStore` on SQLite."""

    async def put_quarantine(self, entry: QuarantineEntry) -> None:
        def put(db: sqlite3.Connection) -> None:
            row = db.execute("SELECT doc FROM quarantine WHERE id=?", (entry.id,)).fetchone()
            doc = entry
            if row is not None:
                old = QuarantineEntry.model_validate_json(row[0])
                doc = entry.model_copy(
                    update={"attempts": old.attempts + 1, "created_at": old.created_at}
                )
            db.execute(
                "INSERT INTO quarantine (id, created_at, doc) VALUES (?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET doc=excluded.doc",
                (doc.id, iso(doc.created_at), doc.model_dump_json()),
            )

        await self._run(lambda db: self._tx(db, lambda: put(db)))

    async def get_quarantine(self, entry_id: str) -> QuarantineEntry | None:
        return await self._one(
            QuarantineEntry, "SELECT doc FROM quarantine WHERE id=?", (entry_id,)
        )

    async def list_quarantine(self, *, limit: int = 100) -> list[QuarantineEntry]:
        return await self._all(
            QuarantineEntry, "SELECT doc FROM quarantine ORDER BY created_at DESC LIMIT ?", (limit,)
        )

    async def count_quarantine(self) -> int:
        row = await self._run(lambda db: db.execute("SELECT count(*) FROM quarantine").fetchone())
        return int(row[0])

    async def delete_quarantine(self, entry_id: str) -> bool:
        cur = await self._run(
            lambda db: db.execute("DELETE FROM quarantine WHERE id=?", (entry_id,))
        )
        return cur.rowcount == 1

    # processing log ------------------------------------------------------------------------
    async def put_log(self, entry: ProcessingLogEntry) -> None:
        await self._run(lambda db: insert_log(db, entry))

    async def list_log(
        self,
        *,
        account_id: str | None = None,
        mail_key: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[ProcessingLogEntry]:
        # Fixed statement; a NULL parameter disables its filter.
        args = (
            account_id,
            mail_key,
            iso(since) if since else None,
            iso(until) if until else None,
            limit,
        )
        return await self._all(
            ProcessingLogEntry,
            "SELECT doc FROM processing_log WHERE (?1 IS NULL OR account_id = ?1)"
            " AND (?2 IS NULL OR mail_key = ?2) AND (?3 IS NULL OR at >= ?3)"
            " AND (?4 IS NULL OR at < ?4) ORDER BY at DESC, id LIMIT ?5",
            args,
        )

    # activity ------------------------------------------------------------------------------
    async def activity(
        self, *, since: datetime, until: datetime, bucket: ActivityBucket = "hour"
    ) -> list[ActivityCount]:
        # Every statement is a range over an indexed time column (processing_log_at,
        # items_created); strftime reads the stored offset, so the buckets are UTC.
        window = (BUCKET_FORMATS[bucket], iso(since), iso(until))
        log_window = "FROM processing_log WHERE at >= ?2 AND at < ?3"

        def read(db: sqlite3.Connection) -> list[tuple[str, str, str, int]]:
            mails = db.execute(
                "SELECT strftime(?1, at) AS b, 'mails_received', '', count(DISTINCT mail_key)"
                f" {log_window} AND json_extract(doc, '$.stage') = 'converter' GROUP BY b",
                window,
            ).fetchall()
            replies = db.execute(
                "SELECT strftime(?1, at) AS b, 'reply', json_extract(doc, '$.action') AS a,"
                f" count(*) {log_window} AND json_extract(doc, '$.stage') = 'replier'"
                " GROUP BY b, a",
                window,
            ).fetchall()
            items = db.execute(
                "SELECT strftime(?1, created_at) AS b, 'items_created', '', count(*)"
                " FROM items WHERE created_at >= ?2 AND created_at < ?3 GROUP BY b",
                window,
            ).fetchall()
            return mails + replies + items

        return activity_counts(await self._run(read))

    # health --------------------------------------------------------------------------------
    async def heartbeat(self, beat: ServiceHeartbeat) -> None:
        await self._run(
            lambda db: db.execute(
                "INSERT INTO heartbeats (service, instance, seen_at, doc) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(service, instance) DO UPDATE SET seen_at=excluded.seen_at,"
                " doc=excluded.doc",
                (beat.service, beat.instance, iso(beat.seen_at), beat.model_dump_json()),
            )
        )

    async def heartbeats(self, *, since: datetime) -> list[ServiceHeartbeat]:
        return await self._all(
            ServiceHeartbeat, "SELECT doc FROM heartbeats WHERE seen_at >= ?", (iso(since),)
        )
