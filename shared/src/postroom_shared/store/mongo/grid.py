"""Blobs in GridFS (bucket `blobs`), named `sha256:<hex>` like the files of the SQLite store.

GridFS writes a file's chunks first and its files document last, and a reader finds a file by
name only through that document, so a reader never sees a half upload. A streamed upload runs
under a unique `pending:` name (its digest is known only at the end) and is renamed to its ref
once complete; when the ref exists already, the new copy is deleted instead. Two writers that
finish at the same moment both rename: two complete, identical files under one name, of which
a reader takes the newest (harmless). A killed writer leaves a `pending:` file, never a blob.
"""

import hashlib
import uuid
from typing import Any

from gridfs import AsyncGridFSBucket
from gridfs.asynchronous.grid_file import AsyncGridIn
from gridfs.errors import NoFile
from pymongo.asynchronous.database import AsyncDatabase

from postroom_shared.models import utcnow
from postroom_shared.store.ports.blobs import StoredBlob, blob_digest, blob_ref, verified

__all__ = ["PENDING_PREFIX", "GridFsBlobWriter", "GridFsBlobs"]

PENDING_PREFIX = "pending:"
BUCKET = "blobs"


class GridFsBlobs:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = db
        self._bucket = AsyncGridFSBucket(db, bucket_name=BUCKET)

    async def touch(self, ref: str) -> bool:
        """Mark the blob `ref` as stored now (the collector keeps blobs stored recently, see
        postroom_shared.retention); False when there is none, so the caller stores it."""
        result = await self._db[f"{BUCKET}.files"].update_many(
            {"filename": ref}, {"$set": {"metadata.touched_at": utcnow()}}
        )
        return result.matched_count > 0

    async def put(self, data: bytes) -> str:
        ref = blob_ref(hashlib.sha256(data).hexdigest())
        if not await self.touch(ref):
            # Written under its final name directly: the files document comes last, so the
            # name appears only with every chunk in place; a concurrent twin is harmless.
            await self._bucket.upload_from_stream(ref, data)
        return ref

    def writer(self) -> "GridFsBlobWriter":
        return GridFsBlobWriter(self)

    async def get(self, ref: str) -> bytes:
        blob_digest(ref)  # KeyError for what is not a blob reference
        try:
            stream = await self._bucket.open_download_stream_by_name(ref)
        except NoFile:
            raise KeyError(ref) from None
        return verified(ref, await stream.read())

    def _upload(self) -> AsyncGridIn:
        return self._bucket.open_upload_stream(f"{PENDING_PREFIX}{uuid.uuid4().hex}")

    async def _settle(self, upload: AsyncGridIn, ref: str) -> None:
        """Name a complete upload `ref`, or drop it when that blob exists already."""
        if await self.touch(ref):
            await self._bucket.delete(upload._id)
        else:
            await self._bucket.rename(upload._id, ref)


class GridFsBlobWriter:
    """A streamed GridFS upload (see the module docstring for how it is named)."""

    def __init__(self, blobs: GridFsBlobs) -> None:
        self._blobs = blobs
        self._upload = blobs._upload()
        self._hash = hashlib.sha256()
        self._size = 0

    async def write(self, data: bytes) -> None:
        await self._upload.write(data)
        self._hash.update(data)
        self._size += len(data)

    async def commit(self) -> StoredBlob:
        await self._upload.close()
        digest = self._hash.hexdigest()
        await self._blobs._settle(self._upload, blob_ref(digest))
        return StoredBlob(ref=blob_ref(digest), size=self._size, sha256=digest)

    async def abort(self) -> None:
        await self._upload.abort()
