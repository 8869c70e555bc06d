"""Many mails in one call on SQLite (`ItemBatches`): the converter's group commit.

A batch is one thread hop and one `BEGIN IMMEDIATE` transaction; each write runs in a savepoint
of its own, so a write that fails (an append to an item that is gone) is rolled back alone and
reported as its result while the others commit. The writes are the very ones `insert_item` and
`append_message` make (`SqliteItems._write_new`, `_write_appended`); a new item's contact is
the one `ensure_contact` makes, and a write's small blobs the rows `put_blob` makes, both in
the write's savepoint. A blob too large for a row is a file, stored before the transaction
(a write whose file failed fails alone, before it began).
"""

import sqlite3
import time
from collections.abc import Sequence

from postroom_shared.models import Item, Person
from postroom_shared.store.ports import ContactClash, MailWrite, NewItem, WriteResult
from postroom_shared.store.sqlite.blobs import SqliteBlobs, put_blob_row
from postroom_shared.store.sqlite.config import SqliteConfig
from postroom_shared.store.sqlite.items import SqliteItems

__all__ = ["SqliteItemBatches"]

# SQLite's default limit of bound parameters per statement is 999 (32766 from 3.32): stay below.
_KEYS_PER_QUERY = 500


def _ensure_contact(db: sqlite3.Connection, contact: Person) -> None:
    """`ensure_contact` in the caller's transaction, for an item whose requester is `contact`:
    stored when nobody owns its address; ContactClash when somebody else does."""
    # the statements `SqliteConfig.ensure_contact` runs, not a second version of them
    owner = SqliteConfig._find_person(db, contact.emails[0])
    if owner is None:
        SqliteConfig._put_person(db, contact)
    elif owner.id != contact.id:
        raise ContactClash(f"{contact.emails[0]} belongs to {owner.id} now, not to {contact.id}")


class SqliteItemBatches(SqliteItems, SqliteBlobs):
    """`ItemBatches` on SQLite."""

    async def _files_first(self, writes: Sequence[MailWrite]) -> dict[int, Exception]:
        """Store the blobs too large for a row as files (`put_blob`); the writes whose file
        failed, by index."""
        failed: dict[int, Exception] = {}
        for n, write in enumerate(writes):
            for data in write.blobs:
                if len(data) > self._options.small_blob_max_bytes:
                    try:
                        await self.put_blob(data)
                    except Exception as exc:
                        failed[n] = exc
                        break
        return failed

    async def write_mails(self, writes: Sequence[MailWrite]) -> list[WriteResult]:
        limit, now = self._options.small_blob_max_bytes, time.time()

        def one(db: sqlite3.Connection, write: MailWrite) -> WriteResult:
            db.execute("SAVEPOINT mail")
            try:
                for data in write.blobs:
                    if len(data) <= limit:
                        put_blob_row(db, data=data, now=now)
                if isinstance(write, NewItem):
                    if write.contact is not None:
                        _ensure_contact(db, write.contact)
                    done = self._write_new(db, write)
                else:
                    done = self._write_appended(db, write)
            except Exception as exc:  # this write's result; the others go on
                db.execute("ROLLBACK TO mail")
                db.execute("RELEASE mail")
                return exc
            db.execute("RELEASE mail")
            return done

        if not writes:
            return []
        failed = await self._files_first(writes)

        def body(db: sqlite3.Connection) -> list[WriteResult]:
            return [failed[n] if n in failed else one(db, w) for n, w in enumerate(writes)]

        return await self._run(lambda db: self._tx(db, lambda: body(db)))

    async def items_for_mails(self, mail_keys: Sequence[str]) -> dict[str, Item]:
        def lookup(db: sqlite3.Connection) -> list[tuple[str, str]]:
            rows: list[tuple[str, str]] = []
            keys = list(dict.fromkeys(mail_keys))
            for start in range(0, len(keys), _KEYS_PER_QUERY):
                chunk = keys[start : start + _KEYS_PER_QUERY]
                # Only '?' placeholders are interpolated; the keys are bound parameters.
                sql = (
                    "SELECT m.key, i.doc FROM messages m JOIN items i ON i.id = m.item_id"  # noqa: S608
                    f" WHERE m.key IN ({','.join('?' * len(chunk))})"
                )
                rows += db.execute(sql, chunk).fetchall()
            return rows

        if not mail_keys:
            return {}
        return {key: Item.model_validate_json(doc) for key, doc in await self._run(lookup)}
