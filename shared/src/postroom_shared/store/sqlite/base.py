"""What every SQLite role shares: the one connection, the one thread it lives on, transactions.

sqlite3 connections are not for sharing across threads and the event loop must not block on
disk, so every call of every role runs on one dedicated thread per process (`_run`). Writes
that must be atomic run as short `BEGIN IMMEDIATE` transactions (`_tx`); `busy_timeout` lets
the four processes take turns, and bounds the wait: a call that cannot get the lock in
`StoreOptions.timeout_s` raises `StoreUnavailableError`. Documents are stored as JSON next to
the few columns that are looked up.
"""

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from postroom_shared.store.ports import StoreOptions, StoreUnavailableError
from postroom_shared.store.sqlite.files import FileBlobs
from postroom_shared.store.sqlite.schema import RETENTION_SCHEMA, SCHEMA, migrate

__all__ = ["SqliteBase", "iso"]

# What SQLite says when the busy timeout ran out (another process held the lock throughout).
_BUSY_WORDS = ("database is locked", "database table is locked", "database is busy")


def iso(value: datetime) -> str:
    return value.isoformat()


class SqliteBase:
    """One SQLite file plus a blob directory beside it; the role classes build on this."""

    def __init__(self, path: str, options: StoreOptions | None = None) -> None:
        self._path = Path(path)
        self._options = options or StoreOptions()
        self._blobs = FileBlobs(self._path.parent / "blobs")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._db: sqlite3.Connection | None = None

    async def _run[T](self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn)

    def _call[T](self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._db is None:
            raise RuntimeError("store is not connected")
        try:
            return fn(self._db)
        except sqlite3.OperationalError as exc:
            if any(words in str(exc) for words in _BUSY_WORDS):
                raise StoreUnavailableError(f"SQLite stayed locked: {exc}") from exc
            raise

    @staticmethod
    def _tx[T](db: sqlite3.Connection, body: Callable[[], T]) -> T:
        db.execute("BEGIN IMMEDIATE")
        try:
            result = body()
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    async def _one[M: BaseModel](
        self, model: type[M], sql: str, args: tuple[Any, ...] = ()
    ) -> M | None:
        """The document of the first row `sql` selects (its first column), or None."""
        row = await self._run(lambda db: db.execute(sql, args).fetchone())
        return model.model_validate_json(row[0]) if row else None

    async def _all[M: BaseModel](
        self, model: type[M], sql: str, args: tuple[Any, ...] = ()
    ) -> list[M]:
        """The documents of every row `sql` selects (their first column)."""
        rows = await self._run(lambda db: db.execute(sql, args).fetchall())
        return [model.model_validate_json(row[0]) for row in rows]

    async def _changed(self, sql: str, args: tuple[Any, ...]) -> bool:
        """Run one statement; True when it changed a row."""
        cur = await self._run(lambda db: db.execute(sql, args))
        return cur.rowcount > 0

    # lifecycle -----------------------------------------------------------------------------
    async def connect(self) -> None:
        def open_db() -> None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            timeout_s = self._options.timeout_s
            db = sqlite3.connect(self._path, timeout=timeout_s, isolation_level=None)
            db.execute(f"PRAGMA busy_timeout={round(timeout_s * 1000)}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(SCHEMA)
            db.executescript(RETENTION_SCHEMA)
            migrate(db)
            self._db = db

        await asyncio.get_running_loop().run_in_executor(self._executor, open_db)

    async def close(self) -> None:
        def close_db() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await asyncio.get_running_loop().run_in_executor(self._executor, close_db)
        self._executor.shutdown(wait=True)

    async def ping(self) -> None:
        await self._run(lambda db: db.execute("SELECT 1").fetchone())
