"""The retention port on SQLite: the purges `postroom_shared.retention` runs, and the blob
collector (rows of `small_blobs`, then files).

Every purge deletes in batches of `BATCH` rows, one short transaction each, so the write lock
the four processes share is never held for a long delete (a converter waiting on it would hit
its busy timeout), and re-running it is harmless. Whether a blob is still referenced is asked
of `message_blobs` and two expression indexes (`schema.py`), never of every document.
"""

import asyncio
import sqlite3
from datetime import UTC, datetime
from functools import partial
from itertools import islice

from pydantic import TypeAdapter

from postroom_shared.models import utcnow
from postroom_shared.store.sqlite.base import SqliteBase

__all__ = ["BATCH", "SqliteRetention"]

BATCH = 500
_JSON_TIME = TypeAdapter(datetime)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _json_time(value: datetime) -> str:
    # The form the JSON documents hold (pydantic's); string order is time order for UTC.
    return _JSON_TIME.dump_json(value.astimezone(UTC)).decode().strip('"')


def _stamp_unaged(db: sqlite3.Connection, *, account_id: str, now: str) -> int:
    sql = "UPDATE seen_keys SET at=? WHERE account_id=? AND at IS NULL"
    return db.execute(sql, (now, account_id)).rowcount


class SqliteRetention(SqliteBase):
    """`Retention` on SQLite and the blob directory."""

    async def _purge(self, table: str, where: str, args: tuple[object, ...]) -> int:
        # `table` and `where` are literals of this module, never input.
        sql = (
            f"DELETE FROM {table} WHERE rowid IN"  # noqa: S608
            f" (SELECT rowid FROM {table} WHERE {where} LIMIT {BATCH})"
        )
        total = 0
        while True:
            count = await self._run(lambda db: db.execute(sql, args).rowcount)
            total += count
            if count < BATCH:
                return total

    async def purge_log(self, before: datetime) -> int:
        return await self._purge("processing_log", "at < ?", (_iso(before),))

    async def purge_sends(self, before: datetime) -> int:
        return await self._purge("sends", "at < ?", (_iso(before),))

    async def purge_ledger(self, before: datetime) -> int:
        where = "json_extract(doc, '$.claimed_at') < ?"
        return await self._purge("ledger", where, (_json_time(before),))

    async def purge_quarantine(self, before: datetime) -> int:
        return await self._purge("quarantine", "created_at < ?", (_iso(before),))

    async def purge_heartbeats(self, before: datetime) -> int:
        return await self._purge("heartbeats", "seen_at < ?", (_iso(before),))

    async def purge_sessions(self, before: datetime) -> int:
        return await self._purge("console_sessions", "expires_at < ?", (_iso(before),))

    async def purge_seen_keys(
        self, before: datetime, *, account_ids: list[str], namespace_prefix: str
    ) -> int:
        total = 0
        for account_id in account_ids:
            # Keys recorded before they carried a time start ageing now.
            await self._run(partial(_stamp_unaged, account_id=account_id, now=_iso(utcnow())))
            where = "account_id = ? AND substr(namespace, 1, ?) = ? AND at < ?"
            args = (account_id, len(namespace_prefix), namespace_prefix, _iso(before))
            total += await self._purge("seen_keys", where, args)
        return total

    def _referenced(self, db: sqlite3.Connection, refs: list[str]) -> set[str]:
        marks = ",".join("?" * len(refs))
        # Only '?' placeholders are interpolated; the values are bound parameters.
        queries = (
            f"SELECT ref FROM message_blobs WHERE ref IN ({marks})",  # noqa: S608
            "SELECT json_extract(doc, '$.blob_ref') FROM quarantine"  # noqa: S608
            f" WHERE json_extract(doc, '$.blob_ref') IN ({marks})",
            "SELECT json_extract(doc, '$.blob_ref') FROM processing_log"  # noqa: S608
            f" WHERE json_extract(doc, '$.blob_ref') IN ({marks})",
        )
        return {row[0] for sql in queries for row in db.execute(sql, refs)}

    def _collect_rows(
        self, db: sqlite3.Connection, *, cutoff: float, after: tuple[float, str]
    ) -> tuple[int, tuple[float, str] | None]:
        """One page of old rows of `small_blobs`: the unreferenced ones deleted, in one
        transaction with the reference check, so no reference can appear in between (and a
        blob stored again meanwhile is recent, never a candidate). Returns how many went and
        where the next page starts (None: done)."""

        def page() -> tuple[int, tuple[float, str] | None]:
            rows = db.execute(
                "SELECT stored_at, ref FROM small_blobs WHERE stored_at < ?"
                " AND (stored_at, ref) > (?, ?) ORDER BY stored_at, ref LIMIT ?",
                (cutoff, *after, BATCH),
            ).fetchall()
            if not rows:
                return 0, None
            referenced = self._referenced(db, [ref for _, ref in rows])
            doomed = [(ref,) for _, ref in rows if ref not in referenced]
            db.executemany("DELETE FROM small_blobs WHERE ref = ?", doomed)
            return len(doomed), rows[-1]

        return self._tx(db, page)

    async def purge_blobs(self, before: datetime) -> int:
        cutoff = before.timestamp()
        deleted = 0
        after: tuple[float, str] | None = (float("-inf"), "")
        while after is not None:
            count, after = await self._run(partial(self._collect_rows, cutoff=cutoff, after=after))
            deleted += count
        return deleted + await self._purge_files(cutoff)

    async def _purge_files(self, cutoff: float) -> int:
        candidates = self._blobs.refs_before(cutoff)  # walked a batch at a time, off the loop
        deleted = 0
        while batch := await asyncio.to_thread(lambda: list(islice(candidates, BATCH))):
            referenced = await self._run(partial(self._referenced, refs=batch))
            for ref in batch:
                if ref not in referenced:
                    deleted += await asyncio.to_thread(self._blobs.delete_if_before, ref, cutoff)
        await asyncio.to_thread(self._blobs.delete_stale_temps, cutoff)
        return deleted
