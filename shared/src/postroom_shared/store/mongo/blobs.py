"""The blob port on MongoDB: GridFS (`grid.py`) in the store's own database."""

from postroom_shared.store.mongo.base import MongoBase
from postroom_shared.store.mongo.grid import GridFsBlobs
from postroom_shared.store.ports import BlobWriter

__all__ = ["MongoBlobs"]


class MongoBlobs(MongoBase):
    """`BlobStore` on GridFS."""

    async def put_blob(self, data: bytes) -> str:
        return await GridFsBlobs(self._db).put(data)

    async def open_blob_writer(self) -> BlobWriter:
        return GridFsBlobs(self._db).writer()

    async def get_blob(self, ref: str) -> bytes:
        return await GridFsBlobs(self._db).get(ref)
