"""The MongoDB schema: one index per lookup the role modules make, created at connect, and the
repair that lets an old database take the unique `applied` index.

Not indexed on purpose: the small configuration collections (accounts, settings, workflows,
templates, people by kind) and the free-text filters of `query_items` (title, requester,
status, project), which ride on the created_at order and the page limit.
`tests/contract/test_mongo_indexes.py` checks every filter the code sends with explain().
"""

from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from postroom_shared.logs import get_logger

__all__ = ["create_indexes"]

type Doc = dict[str, Any]  # a BSON document as PyMongo hands it out

log = get_logger(__name__)
_DUPLICATE_KEY, _INDEX_NOT_FOUND, _INDEX_CHANGED = 11000, 27, (85, 86)


async def create_indexes(db: AsyncDatabase[Doc]) -> None:
    await db.accounts.create_index("name", unique=True)
    await db.items.create_index([("item_type", ASCENDING), ("number", ASCENDING)], unique=True)
    await _unique_applied_index(db)
    # Items written before versions were counted are at version 1 (what the model reads).
    await db.items.update_many({"version": {"$exists": False}}, {"$set": {"version": 1}})
    await db.items.create_index([("created_at", DESCENDING)])
    await db.items.create_index([("account_id", ASCENDING), ("created_at", DESCENDING)])
    # Only items with unpublished events are in this index: the relay's lookup and
    # mark_published touch those few documents instead of scanning every item.
    await db.items.create_index(
        "outbox.event_id",
        name="outbox_pending",
        partialFilterExpression={"outbox.event_id": {"$exists": True}},
    )
    await db.messages.create_index([("account_id", ASCENDING), ("message_id", ASCENDING)])
    await db.messages.create_index([("item_id", ASCENDING), ("created_at", ASCENDING)])
    await db.processing_log.create_index([("at", DESCENDING)])
    await db.processing_log.create_index([("account_id", ASCENDING), ("at", DESCENDING)])
    await db.people.create_index("emails", unique=True)
    await db.sends.create_index([("recipient", ASCENDING), ("at", ASCENDING)])
    await db.sends.create_index([("at", ASCENDING)])
    await db.sends.create_index([("domain", ASCENDING), ("at", ASCENDING)])
    await db.sends.create_index([("account_id", ASCENDING), ("at", ASCENDING)])
    await db.processing_log.create_index("mail_key")
    await db.api_keys.create_index("key_hash", unique=True)
    await db.seen_keys.create_index(
        [("account_id", ASCENDING), ("namespace", ASCENDING), ("key", ASCENDING)]
    )
    await db.quarantine.create_index([("created_at", DESCENDING)])
    await db.heartbeats.create_index("seen_at")
    await db.console_sessions.create_index("expires_at")  # the retention purge
    await _retention_indexes(db)


async def _retention_indexes(db: AsyncDatabase[Doc]) -> None:
    """For the purges and the blob collector (`retention.py`)."""
    await db.ledger.create_index("claimed_at")
    await db.sends.create_index("at")
    # Blob references, for the collector; partial: most messages and log entries have none.
    has_ref = {"blob_ref": {"$type": "string"}}
    await db.messages.create_index("blob_ref", partialFilterExpression=has_ref)
    await db.messages.create_index(
        "attachments.blob_ref",
        partialFilterExpression={"attachments.blob_ref": {"$exists": True}},
    )
    await db.processing_log.create_index("blob_ref", partialFilterExpression=has_ref)
    await db.quarantine.create_index("blob_ref")
    await db["blobs.files"].create_index("uploadDate")
    await db.small_blobs.create_index("stored_at")


async def _unique_applied_index(db: AsyncDatabase[Doc]) -> None:
    """`applied` unique: the guarantee that one mail makes one item. A database from
    before it had a plain index, and the race it allowed may have left a mail key on two
    items: the key stays on the item its thread message names (else the oldest) and is
    pulled from the others, which are logged and left in place for a human (an item left
    with no key gets `released:<its id>`, never a mail key)."""
    items = db.items
    for _ in range(3):  # other services may be starting and doing the same
        old = (await items.index_information()).get("applied_1")
        if old is not None and old.get("unique"):
            return
        if old is not None:
            try:
                await items.drop_index("applied_1")
            except OperationFailure as exc:
                if exc.code != _INDEX_NOT_FOUND:
                    raise
        try:
            await items.create_index("applied", unique=True)
            return
        except OperationFailure as exc:  # DuplicateKeyError included
            if exc.code == _DUPLICATE_KEY:
                await _release_doubly_applied_keys(db)
            elif exc.code not in _INDEX_CHANGED:
                raise
    await items.create_index("applied", unique=True)  # the last word: raises if it cannot


async def _release_doubly_applied_keys(db: AsyncDatabase[Doc]) -> None:
    pipeline: list[Doc] = [
        {"$unwind": "$applied"},
        {
            "$group": {
                "_id": "$applied",
                "items": {"$push": {"id": "$_id", "at": "$created_at"}},
            }
        },
        {"$match": {"items.1": {"$exists": True}}},
    ]
    async for group in await db.items.aggregate(pipeline):
        key = group["_id"]
        message = await db.messages.find_one({"_id": key}, {"item_id": 1})
        holders = sorted(group["items"], key=lambda h: h["at"])
        keep = next(
            (h["id"] for h in holders if message and h["id"] == message["item_id"]),
            holders[0]["id"],
        )
        others = [h["id"] for h in holders if h["id"] != keep]
        for other in others:
            await db.items.update_one({"_id": other}, {"$pull": {"applied": key}})
            # An empty array is one (null) key of the unique index: several would clash.
            await db.items.update_one(
                {"_id": other, "applied": {"$size": 0}},
                {"$set": {"applied": [f"released:{other}"]}},
            )
        log.warning(
            "mail key was applied to several items; kept on one",
            mail_key=key,
            kept_on=keep,
            duplicates=others,
        )
