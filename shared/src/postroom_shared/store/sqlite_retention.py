"""Retention on SQLite: the purges `postroom_shared.retention` runs, and the blob collector.

Every purge deletes in batches of `BATCH` rows, one short transaction each, so the write lock
the four processes share is never held for a long delete (a converter waiting on it would hit
its busy timeout), and re-running it is harmless.

Blob references live in JSON documents; `message_blobs` (written with each thread message, in
the same transaction) and two expression indexes (quarantine and processing log) let the
collector ask "is this blob referenced?" without reading every document.
"""

import asyncio
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from itertools import islice

from pydantic import TypeAdapter

from postroom_shared.models import ThreadMessage, utcnow
from postroom_shared.store.blobs_fs import FileBlobs

__all__ = ["BATCH", "RETENTION_SCHEMA", "SqliteRetention", "message_blob_rows", "migrate"]

BATCH = 500

RETENTION_SCHEMA = """
CREATE TABLE IF NOT EXISTS message_blobs (ref TEXT NOT NULL, message_key TEXT NOT NULL,
    PRIMARY KEY (ref, message_key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sends_at ON sends (at);
CREATE INDEX IF NOT EXISTS quarantine_created ON quarantine (created_at);
CREATE INDEX IF NOT EXISTS heartbeats_seen ON heartbeats (seen_at);
CREATE INDEX IF NOT EXISTS ledger_claimed ON ledger (json_extract(doc, '$.claimed_at'));
CREATE INDEX IF NOT EXISTS quarantine_blob ON quarantine (json_extract(doc, '$.blob_ref'));
CREATE INDEX IF NOT EXISTS processing_log_blob ON processing_log (json_extract(doc, '$.blob_ref'))
    WHERE json_extract(doc, '$.blob_ref') IS NOT NULL;
"""

_SCHEMA_VERSION = 1
_JSON_TIME = TypeAdapter(datetime)


def migrate(db: sqlite3.Connection) -> None:
    """Bring a database made by an older version up to date (idempotent, and safe while
    other processes open the same file: one `BEGIN IMMEDIATE` decides who does it)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        columns = {row[1] for row in db.execute("PRAGMA table_info(seen_keys)")}
        if "at" not in columns:  # when the key was recorded (retention)
            db.execute("ALTER TABLE seen_keys ADD COLUMN at TEXT")
        if db.execute("PRAGMA user_version").fetchone()[0] < _SCHEMA_VERSION:
            db.execute(
                "INSERT OR IGNORE INTO message_blobs (ref, message_key)"
                " SELECT json_extract(doc, '$.blob_ref'), key FROM messages"
                " WHERE json_extract(doc, '$.blob_ref') IS NOT NULL"
            )
            db.execute(
                "INSERT OR IGNORE INTO message_blobs (ref, message_key)"
                " SELECT json_extract(a.value, '$.blob_ref'), m.key"
                " FROM messages m, json_each(m.doc, '$.attachments') a"
                " WHERE json_extract(a.value, '$.blob_ref') IS NOT NULL"
            )
            db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def message_blob_rows(message: ThreadMessage) -> list[tuple[str, str]]:
    """(ref, message key) of every blob a thread message references."""
    refs = {message.blob_ref} if message.blob_ref else set()
    refs.update(a.blob_ref for a in message.attachments if a.blob_ref)
    return [(ref, message.key) for ref in sorted(refs)]


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def _json_time(value: datetime) -> str:
    # The form the JSON documents hold (pydantic's); string order is time order for UTC.
    return _JSON_TIME.dump_json(value.astimezone(UTC)).decode().strip('"')


def _stamp_unaged(db: sqlite3.Connection, *, account_id: str, now: str) -> int:
    sql = "UPDATE seen_keys SET at=? WHERE account_id=? AND at IS NULL"
    return db.execute(sql, (now, account_id)).rowcount


class SqliteRetention:
    """Mixed into `SqliteStore`: purges and the blob collector."""

    _blobs: FileBlobs

    async def _run[T](self, fn: Callable[[sqlite3.Connection], T]) -> T:
        raise NotImplementedError

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

    async def purge_blobs(self, before: datetime) -> int:
        cutoff = before.timestamp()
        candidates = self._blobs.refs_before(cutoff)  # walked a batch at a time, off the loop
        deleted = 0
        while batch := await asyncio.to_thread(lambda: list(islice(candidates, BATCH))):
            referenced = await self._run(partial(self._referenced, refs=batch))
            for ref in batch:
                if ref not in referenced:
                    deleted += await asyncio.to_thread(self._blobs.delete_if_before, ref, cutoff)
        await asyncio.to_thread(self._blobs.delete_stale_temps, cutoff)
        return deleted
