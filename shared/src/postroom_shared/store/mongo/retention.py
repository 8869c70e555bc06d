"""The retention port on MongoDB: the purges `postroom_shared.retention` runs, and the blob
collector.

Each purge deletes what is older than its cutoff in batches of `BATCH` documents (one bounded
query and one bounded delete each), so a first run over years of history never becomes one
operation that outlives the store timeout, and re-running it is harmless.

Blobs (documents of `small_blobs` and GridFS files alike) are content-addressed and shared:
the same attachment (a logo) is stored once and may be referenced again at any moment.
`put_blob` touches an existing blob (`stored_at`, `metadata.touched_at`) before it reports it
stored, and the collector deletes only with a filter that still requires it to be old: a blob
touched after the reference check survives, and one collected before the touch is uploaded
again by the touching `put_blob`.
"""

import re
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from postroom_shared.models import utcnow
from postroom_shared.store.mongo.base import Doc, MongoBase
from postroom_shared.store.mongo.blobs import SMALL_BLOBS

__all__ = ["BATCH", "MongoRetention"]

BATCH = 500


def _untouched_since(before: datetime) -> Doc:
    return {
        "uploadDate": {"$lt": before},
        "$or": [
            {"metadata.touched_at": {"$exists": False}},
            {"metadata.touched_at": {"$lt": before}},
        ],
    }


class MongoRetention(MongoBase):
    """`Retention` on MongoDB and GridFS."""

    @staticmethod
    async def _purge(collection: AsyncCollection[Doc], query: Doc) -> int:
        total = 0
        while True:
            ids = [doc["_id"] async for doc in collection.find(query, {"_id": 1}).limit(BATCH)]
            if not ids:
                return total
            deleted = await collection.delete_many({"$and": [{"_id": {"$in": ids}}, query]})
            total += deleted.deleted_count
            if len(ids) < BATCH or deleted.deleted_count == 0:
                return total

    async def purge_log(self, before: datetime) -> int:
        return await self._purge(self._db.processing_log, {"at": {"$lt": before}})

    async def purge_sends(self, before: datetime) -> int:
        return await self._purge(self._db.sends, {"at": {"$lt": before}})

    async def purge_ledger(self, before: datetime) -> int:
        return await self._purge(self._db.ledger, {"claimed_at": {"$lt": before}})

    async def purge_quarantine(self, before: datetime) -> int:
        return await self._purge(self._db.quarantine, {"created_at": {"$lt": before}})

    async def purge_heartbeats(self, before: datetime) -> int:
        return await self._purge(self._db.heartbeats, {"seen_at": {"$lt": before}})

    async def purge_sessions(self, before: datetime) -> int:
        return await self._purge(self._db.console_sessions, {"expires_at": {"$lt": before}})

    async def purge_seen_keys(
        self, before: datetime, *, account_ids: list[str], namespace_prefix: str
    ) -> int:
        if not account_ids:
            return 0
        accounts = {"$in": [str(a) for a in account_ids]}
        # Keys recorded before they carried a time start ageing now.
        await self._db.seen_keys.update_many(
            {"account_id": accounts, "at": {"$exists": False}}, {"$set": {"at": utcnow()}}
        )
        query: Doc = {
            "account_id": accounts,
            "namespace": {"$regex": "^" + re.escape(str(namespace_prefix))},
            "at": {"$lt": before},
        }
        return await self._purge(self._db.seen_keys, query)

    async def _referenced(self, refs: list[str]) -> set[str]:
        found: set[str] = set()
        db = self._db
        async for doc in db.messages.find({"blob_ref": {"$in": refs}}, {"blob_ref": 1}):
            found.add(doc["blob_ref"])
        attached = {"attachments.blob_ref": {"$in": refs}}
        async for doc in db.messages.find(attached, {"attachments.blob_ref": 1}):
            found.update(a.get("blob_ref") for a in doc.get("attachments", []))
        for collection in (db.quarantine, db.processing_log):
            async for doc in collection.find({"blob_ref": {"$in": refs}}, {"blob_ref": 1}):
                found.add(doc["blob_ref"])
        return found

    async def purge_blobs(self, before: datetime) -> int:
        return (
            await self._purge_small_blobs(before)
            + await self._purge_grid_blobs(before)
            + await self._purge_orphan_chunks(before)
        )

    async def _purge_small_blobs(self, before: datetime) -> int:
        small = self._db[SMALL_BLOBS]
        deleted = 0
        after = ""
        while True:
            query: Doc = {"stored_at": {"$lt": before}, "_id": {"$gt": after}}
            cursor = small.find(query, {"_id": 1}).sort("_id", ASCENDING).limit(BATCH)
            page = [doc["_id"] async for doc in cursor]
            if not page:
                return deleted
            after = page[-1]
            referenced = await self._referenced(page)
            if doomed := [ref for ref in page if ref not in referenced]:
                # Still old: a blob stored again after the reference check stays.
                still_old = {"_id": {"$in": doomed}, "stored_at": {"$lt": before}}
                deleted += (await small.delete_many(still_old)).deleted_count

    async def _purge_grid_blobs(self, before: datetime) -> int:
        files, chunks = self._db["blobs.files"], self._db["blobs.chunks"]
        deleted = 0
        after: Any = None
        while True:
            query = _untouched_since(before)
            if after is not None:
                query["_id"] = {"$gt": after}
            page = [
                doc
                async for doc in files.find(query, {"filename": 1})
                .sort("_id", ASCENDING)
                .limit(BATCH)
            ]
            if not page:
                break
            after = page[-1]["_id"]
            referenced = await self._referenced([doc["filename"] for doc in page])
            for doc in page:
                if doc["filename"] in referenced:
                    continue
                gone = await files.delete_one({"_id": doc["_id"], **_untouched_since(before)})
                if gone.deleted_count:
                    await chunks.delete_many({"files_id": doc["_id"]})
                    deleted += 1
        return deleted

    async def _purge_orphan_chunks(self, before: datetime) -> int:
        """Chunks of uploads that died before their files document was written (GridFS
        writes it last); their file id is an ObjectId, which carries its creation time."""
        files, chunks = self._db["blobs.files"], self._db["blobs.chunks"]
        # Page by file id with short queries: a cursor's whole life counts against the store
        # timeout, so one long walk over every chunk could never finish on a large store.
        after: Any = ObjectId("0" * 24)
        orphans = 0
        while True:
            query = {"files_id": {"$gt": after, "$lt": ObjectId.from_datetime(before)}, "n": 0}
            cursor = chunks.find(query, {"files_id": 1}).sort("files_id", ASCENDING).limit(BATCH)
            page = [doc["files_id"] async for doc in cursor]
            if not page:
                return orphans
            orphans += await self._drop_orphans(files, chunks, page)
            after = page[-1]

    @staticmethod
    async def _drop_orphans(
        files: AsyncCollection[Doc], chunks: AsyncCollection[Doc], batch: list[Any]
    ) -> int:
        alive = {doc["_id"] async for doc in files.find({"_id": {"$in": batch}}, {"_id": 1})}
        dead = [files_id for files_id in batch if files_id not in alive]
        if dead:
            await chunks.delete_many({"files_id": {"$in": dead}})
        return len(dead)
