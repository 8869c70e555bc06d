"""The blob port on SQLite's side: small blobs as rows of the database, larger ones as files in
a directory beside it (`files.py`).

A file costs two fsyncs and a rename per blob, about 1 ms of CPU (mostly system time) for a
raw mail of a few KB, which was most of what storing a mail cost the converter. Up to
`StoreOptions.small_blob_max_bytes` the bytes go into `small_blobs` instead: one statement,
committed into the WAL like the item that will reference them, and exactly as durable as that
item (docs/architecture.md, "Storage"). The reference is the same `sha256:<hex>` either way,
so readers never know where a blob lives: `get_blob` asks the table first, then the files
(blobs stored before the table existed, or above the limit). File calls do not touch the
database, so they run on worker threads of their own instead of queueing behind the database
thread.
"""

import asyncio
import hashlib
import sqlite3
import time
from functools import partial

from postroom_shared.store.ports import BlobWriter, StoreUnavailableError
from postroom_shared.store.ports.blobs import blob_digest, blob_ref, verified
from postroom_shared.store.sqlite.base import SqliteBase
from postroom_shared.store.sqlite.files import ThreadedBlobWriter

__all__ = ["SqliteBlobs", "put_blob_row"]

# Storing bytes again renews the row (the collector keeps blobs stored recently) and rewrites
# the bytes, which also repairs a damaged row, as a file's rename over a damaged file does.
_PUT_ROW = (
    "INSERT INTO small_blobs (ref, stored_at, data) VALUES (?, ?, ?)"
    " ON CONFLICT (ref) DO UPDATE SET stored_at = excluded.stored_at, data = excluded.data"
)


def put_blob_row(db: sqlite3.Connection, *, data: bytes, now: float) -> str:
    """A small blob's row; outside a transaction the statement is one of its own, inside one
    (`write_mails`: the raw mail with its item) it commits with the rest."""
    ref = blob_ref(hashlib.sha256(data).hexdigest())
    db.execute(_PUT_ROW, (ref, now, data))
    return ref


def _get_row(db: sqlite3.Connection, *, ref: str) -> bytes | None:
    row = db.execute("SELECT data FROM small_blobs WHERE ref = ?", (ref,)).fetchone()
    return None if row is None else verified(ref, row[0])


class SqliteBlobs(SqliteBase):
    """`BlobStore` on the `small_blobs` table and the blob directory."""

    async def put_blob(self, data: bytes) -> str:
        if len(data) <= self._options.small_blob_max_bytes:
            return await self._run(partial(put_blob_row, data=data, now=time.time()))

        def put() -> str:
            # `touch` renews a blob that was there already, so the collector keeps it; it
            # fails only when the collector took it in between, and then it is stored again.
            for _ in range(3):
                ref = self._blobs.put(data)
                if self._blobs.touch(ref):
                    return ref
            raise StoreUnavailableError("a blob vanished three times while it was stored")

        return await asyncio.to_thread(put)

    async def open_blob_writer(self) -> BlobWriter:
        # Streamed bytes are large mail (over the fetcher's inline limit): always a file.
        return ThreadedBlobWriter(await asyncio.to_thread(self._blobs.writer))

    async def get_blob(self, ref: str) -> bytes:
        blob_digest(ref)  # KeyError for what is not a blob reference
        data = await self._run(partial(_get_row, ref=ref))
        if data is not None:
            return data
        return await asyncio.to_thread(self._blobs.get, ref)
