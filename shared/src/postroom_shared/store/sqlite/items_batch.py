"""Many mails in one call on SQLite (`ItemBatches`): the converter's group commit.

A batch is one thread hop and one `BEGIN IMMEDIATE` transaction; each write runs in a savepoint
of its own, so a write that fails (an append to an item that is gone) is rolled back alone and
reported as its result while the others commit. The writes are the very ones `insert_item` and
`append_message` make (`SqliteItems._write_new`, `_write_appended`).
"""

import sqlite3
from collections.abc import Sequence

from postroom_shared.models import Item
from postroom_shared.store.ports import MailWrite, NewItem, WriteResult
from postroom_shared.store.sqlite.items import SqliteItems

__all__ = ["SqliteItemBatches"]

# SQLite's default limit of bound parameters per statement is 999 (32766 from 3.32): stay below.
_KEYS_PER_QUERY = 500


class SqliteItemBatches(SqliteItems):
    """`ItemBatches` on SQLite."""

    async def write_mails(self, writes: Sequence[MailWrite]) -> list[WriteResult]:
        def one(db: sqlite3.Connection, write: MailWrite) -> WriteResult:
            db.execute("SAVEPOINT mail")
            try:
                if isinstance(write, NewItem):
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
        return await self._run(lambda db: self._tx(db, lambda: [one(db, w) for w in writes]))

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
