"""The fetch port on SQLite: checkpoints, seen keys, leases and account states.

A lease is one row whose conditional upsert succeeds only for its owner or once it expired,
so two replicas never hold one account; `prune_seen_keys` is one transaction, which makes it
the atomic test-and-clear that "fetch now" relies on.
"""

import sqlite3
import time

from postroom_shared.models import AccountState, Checkpoint, utcnow
from postroom_shared.store.sqlite.base import SqliteBase, iso

__all__ = ["SqliteFetch"]


class SqliteFetch(SqliteBase):
    """`FetchStore` on SQLite."""

    async def get_checkpoint(self, account_id: str, folder: str) -> Checkpoint | None:
        return await self._one(
            Checkpoint,
            "SELECT doc FROM checkpoints WHERE account_id=? AND folder=?",
            (account_id, folder),
        )

    async def set_checkpoint(self, checkpoint: Checkpoint) -> None:
        await self._run(
            lambda db: db.execute(
                "INSERT INTO checkpoints (account_id, folder, doc) VALUES (?, ?, ?)"
                " ON CONFLICT(account_id, folder) DO UPDATE SET doc=excluded.doc",
                (checkpoint.account_id, checkpoint.folder, checkpoint.model_dump_json()),
            )
        )

    # seen keys -----------------------------------------------------------------------------
    async def seen_keys(self, account_id: str, namespace: str, keys: list[str]) -> set[str]:
        def body(db: sqlite3.Connection) -> set[str]:
            found: set[str] = set()
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                # Only '?' placeholders are interpolated; the values are bound parameters.
                rows = db.execute(
                    "SELECT key FROM seen_keys WHERE account_id=? AND namespace=?"  # noqa: S608
                    f" AND key IN ({marks})",
                    (account_id, namespace, *chunk),
                ).fetchall()
                found.update(row[0] for row in rows)
            return found

        return await self._run(body)

    async def add_seen_keys(self, account_id: str, namespace: str, keys: list[str]) -> None:
        await self._run(
            lambda db: db.executemany(
                "INSERT INTO seen_keys (account_id, namespace, key, at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                [(account_id, namespace, key, iso(utcnow())) for key in keys],
            )
        )

    async def prune_seen_keys(self, account_id: str, namespace: str, keep: list[str]) -> int:
        def body(db: sqlite3.Connection) -> int:
            db.execute("CREATE TEMP TABLE IF NOT EXISTS keep_keys (key TEXT PRIMARY KEY)")
            db.execute("DELETE FROM keep_keys")
            db.executemany("INSERT OR IGNORE INTO keep_keys (key) VALUES (?)", [(k,) for k in keep])
            cur = db.execute(
                "DELETE FROM seen_keys WHERE account_id=? AND namespace=?"
                " AND key NOT IN (SELECT key FROM keep_keys)",
                (account_id, namespace),
            )
            db.execute("DELETE FROM keep_keys")
            return cur.rowcount

        return await self._run(lambda db: self._tx(db, lambda: body(db)))

    # leases --------------------------------------------------------------------------------
    async def acquire_lease(self, name: str, owner: str, ttl_s: float) -> bool:
        def body(db: sqlite3.Connection) -> bool:
            now = time.time()
            cur = db.execute(
                "INSERT INTO leases (name, owner, expires) VALUES (?, ?, ?)"
                " ON CONFLICT(name) DO UPDATE SET owner=excluded.owner, expires=excluded.expires"
                " WHERE leases.owner = excluded.owner OR leases.expires < ?",
                (name, owner, now + ttl_s, now),
            )
            return cur.rowcount > 0

        return await self._run(lambda db: self._tx(db, lambda: body(db)))

    async def release_lease(self, name: str, owner: str) -> None:
        await self._run(
            lambda db: db.execute("DELETE FROM leases WHERE name=? AND owner=?", (name, owner))
        )

    # account states ------------------------------------------------------------------------
    async def put_account_state(self, state: AccountState) -> None:
        await self._run(
            lambda db: db.execute(
                "INSERT INTO account_states (account_id, doc) VALUES (?, ?)"
                " ON CONFLICT(account_id) DO UPDATE SET doc=excluded.doc",
                (state.account_id, state.model_dump_json()),
            )
        )

    async def get_account_state(self, account_id: str) -> AccountState | None:
        return await self._one(
            AccountState, "SELECT doc FROM account_states WHERE account_id=?", (account_id,)
        )

    async def list_account_states(self) -> list[AccountState]:
        return await self._all(AccountState, "SELECT doc FROM account_states ORDER BY account_id")
