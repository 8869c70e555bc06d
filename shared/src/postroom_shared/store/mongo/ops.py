"""The operations port on MongoDB: the quarantine, the processing log, the heartbeats and the
dashboard's activity counts."""

import contextlib
from datetime import datetime

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from postroom_shared.models import ProcessingLogEntry, QuarantineEntry, ServiceHeartbeat
from postroom_shared.store.mongo.base import Doc, MongoBase, to_doc
from postroom_shared.store.ports.values import (
    BUCKET_FORMATS,
    ActivityBucket,
    ActivityCount,
    activity_counts,
)

__all__ = ["MongoOps", "insert_log"]


async def insert_log(db: AsyncDatabase[Doc], entry: ProcessingLogEntry) -> None:
    """Record a processing step; the same id twice keeps the first record (the items role
    writes an item's entry right after the item)."""
    with contextlib.suppress(DuplicateKeyError):
        await db.processing_log.insert_one(to_doc(entry, _id=entry.id))


class MongoOps(MongoBase):
    """`OpsStore` on MongoDB."""

    async def put_quarantine(self, entry: QuarantineEntry) -> None:
        doc = to_doc(entry, _id=entry.id)
        fresh = {k: v for k, v in doc.items() if k not in {"attempts", "created_at"}}
        await self._db.quarantine.update_one(
            {"_id": entry.id},
            {
                "$set": fresh,
                "$inc": {"attempts": 1},
                "$setOnInsert": {"created_at": entry.created_at},
            },
            upsert=True,
        )

    async def get_quarantine(self, entry_id: str) -> QuarantineEntry | None:
        return await self._find(QuarantineEntry, "quarantine", {"_id": entry_id})

    async def list_quarantine(self, *, limit: int = 100) -> list[QuarantineEntry]:
        return await self._models(
            QuarantineEntry,
            self._db.quarantine.find({}).sort("created_at", DESCENDING).limit(limit),
        )

    async def count_quarantine(self) -> int:
        return await self._db.quarantine.count_documents({})

    async def delete_quarantine(self, entry_id: str) -> bool:
        result = await self._db.quarantine.delete_one({"_id": entry_id})
        return result.deleted_count == 1

    # processing log ------------------------------------------------------------------------
    async def put_log(self, entry: ProcessingLogEntry) -> None:
        await insert_log(self._db, entry)

    async def list_log(
        self,
        *,
        account_id: str | None = None,
        mail_key: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[ProcessingLogEntry]:
        query: Doc = {}
        if account_id is not None:
            query["account_id"] = str(account_id)
        if mail_key is not None:
            query["mail_key"] = str(mail_key)
        window: Doc = {}
        if since is not None:
            window["$gte"] = since
        if until is not None:
            window["$lt"] = until
        if window:
            query["at"] = window
        return await self._models(
            ProcessingLogEntry,
            (
                self._db.processing_log.find(query)
                .sort([("at", DESCENDING), ("_id", ASCENDING)])
                .limit(limit)
            ),
        )

    # activity ------------------------------------------------------------------------------
    async def activity(
        self, *, since: datetime, until: datetime, bucket: ActivityBucket = "hour"
    ) -> list[ActivityCount]:
        # Each pipeline starts with a range on an indexed time field (processing_log `at`,
        # items `created_at`); $dateToString names the UTC bucket as SQLite's strftime does.
        def label(field: str) -> Doc:
            return {"$dateToString": {"format": BUCKET_FORMATS[bucket], "date": f"${field}"}}

        window = {"$gte": since, "$lt": until}
        mails: list[Doc] = [
            {"$match": {"at": window, "stage": "converter"}},
            {"$group": {"_id": {"b": label("at"), "m": "$mail_key"}}},
            {"$group": {"_id": "$_id.b", "n": {"$sum": 1}}},
        ]
        replies: list[Doc] = [
            {"$match": {"at": window, "stage": "replier"}},
            {"$group": {"_id": {"b": label("at"), "a": "$action"}, "n": {"$sum": 1}}},
        ]
        items: list[Doc] = [
            {"$match": {"created_at": window}},
            {"$group": {"_id": label("created_at"), "n": {"$sum": 1}}},
        ]
        rows: list[tuple[str, str, str, int]] = []
        async for doc in await self._db.processing_log.aggregate(mails):
            rows.append((doc["_id"], "mails_received", "", doc["n"]))
        async for doc in await self._db.processing_log.aggregate(replies):
            rows.append((doc["_id"]["b"], "reply", doc["_id"]["a"], doc["n"]))
        async for doc in await self._db.items.aggregate(items):
            rows.append((doc["_id"], "items_created", "", doc["n"]))
        return activity_counts(rows)

    # health --------------------------------------------------------------------------------
    async def heartbeat(self, beat: ServiceHeartbeat) -> None:
        key = f"{beat.service}\x1f{beat.instance}"
        doc = beat.model_dump()
        doc["_id"] = key
        await self._db.heartbeats.replace_one({"_id": key}, doc, upsert=True)

    async def heartbeats(self, *, since: datetime) -> list[ServiceHeartbeat]:
        return await self._models(
            ServiceHeartbeat, self._db.heartbeats.find({"seen_at": {"$gte": since}})
        )
