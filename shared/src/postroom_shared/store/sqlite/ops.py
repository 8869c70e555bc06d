"""The operations port on SQLite: the quarantine, the processing log and the heartbeats."""

import sqlite3
from datetime import datetime

from postroom_shared.models import ProcessingLogEntry, QuarantineEntry, ServiceHeartbeat
from postroom_shared.store.sqlite.base import SqliteBase, iso

__all__ = ["SqliteOps"]


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
        await self._run(
            lambda db: db.execute(
                "INSERT INTO processing_log (id, account_id, mail_key, at, doc)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING",
                (
                    entry.id,
                    entry.account_id,
                    entry.mail_key,
                    iso(entry.at),
                    entry.model_dump_json(),
                ),
            )
        )

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
