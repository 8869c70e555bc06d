"""The blob port on SQLite's side: files in a directory beside the database (`files.py`).

Blob calls do not touch the database, so they run on worker threads of their own instead of
queueing behind the database thread.
"""

import asyncio

from postroom_shared.store.ports import BlobWriter, StoreUnavailableError
from postroom_shared.store.sqlite.base import SqliteBase
from postroom_shared.store.sqlite.files import ThreadedBlobWriter

__all__ = ["SqliteBlobs"]


class SqliteBlobs(SqliteBase):
    """`BlobStore` on the blob directory."""

    async def put_blob(self, data: bytes) -> str:
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
        return ThreadedBlobWriter(await asyncio.to_thread(self._blobs.writer))

    async def get_blob(self, ref: str) -> bytes:
        return await asyncio.to_thread(self._blobs.get, ref)
