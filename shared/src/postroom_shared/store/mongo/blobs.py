"""The blob port on MongoDB: small blobs as documents of `small_blobs`, larger ones in GridFS
(`grid.py`), both in the store's own database.

A GridFS upload is at least two inserts (chunks, then the files document) after a lookup; up
to `StoreOptions.small_blob_max_bytes` the bytes are one document instead (`_id` the blob's
reference, `stored_at` for the collector), written with the same write concern as every other
document of the store. The reference is the same `sha256:<hex>` either way, so readers never
know where a blob lives: `get_blob` asks the collection first, then GridFS.
"""

import hashlib

from bson import Binary
from pymongo.errors import DuplicateKeyError

from postroom_shared.models import utcnow
from postroom_shared.store.mongo.base import MongoBase
from postroom_shared.store.mongo.grid import GridFsBlobs
from postroom_shared.store.ports import BlobWriter, StoreUnavailableError
from postroom_shared.store.ports.blobs import blob_digest, blob_ref, verified

__all__ = ["SMALL_BLOBS", "MongoBlobs"]

SMALL_BLOBS = "small_blobs"


class MongoBlobs(MongoBase):
    """`BlobStore` on the `small_blobs` collection and GridFS."""

    async def put_blob(self, data: bytes) -> str:
        if len(data) > self._options.small_blob_max_bytes:
            return await GridFsBlobs(self._db).put(data)
        ref = blob_ref(hashlib.sha256(data).hexdigest())
        # Storing bytes again renews `stored_at` (the collector keeps blobs stored recently)
        # and rewrites them, which also repairs a damaged document.
        change = {"$set": {"stored_at": utcnow(), "data": Binary(data)}}
        for _ in range(3):
            try:
                await self._db[SMALL_BLOBS].update_one({"_id": ref}, change, upsert=True)
            except DuplicateKeyError:
                continue  # a concurrent writer inserted it first: update it now
            return ref
        raise StoreUnavailableError(f"storing blob {ref} kept colliding with other writers")

    async def open_blob_writer(self) -> BlobWriter:
        # Streamed bytes are large mail (over the fetcher's inline limit): always GridFS.
        return GridFsBlobs(self._db).writer()

    async def get_blob(self, ref: str) -> bytes:
        blob_digest(ref)  # KeyError for what is not a blob reference
        doc = await self._db[SMALL_BLOBS].find_one({"_id": ref}, {"data": 1})
        if doc is not None:
            return verified(ref, bytes(doc["data"]))
        return await GridFsBlobs(self._db).get(ref)
