"""The items port on MongoDB: item numbers, items, thread messages, item queries, the outbox.

Single-document atomicity is all it takes (docs/architecture.md, "Storage"):
- item numbers come from one counter document per item type (`$inc`, upsert, AFTER);
- a mail is applied to an item once: the item document lists the mail keys applied to it in
  `applied`, under a unique (multikey) index, so two items can never hold one key; the update
  that appends a message carries `applied: {$ne: key}` in its filter, and a duplicate-key
  error means another call applied the mail first;
- a command's change replaces the item's fields in one update whose filter holds the version it
  was read at and `applied: {$ne: cmd:<command id>}`, so a stale change is a conflict and a
  repeated command a duplicate; every write adds one to `version`;
- events ride in the item document's `outbox` array, written by the same update that changes
  the item, published afterwards and `$pull`ed (a relay re-publishes leftovers after a crash).
The thread message documents are written first, keyed by the mail key, so a crash between the
two writes leaves only an orphan message that the retry adopts; the call that wins the item
write makes that message its own.
"""

import contextlib
import re
from collections.abc import Sequence

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from postroom_shared.models import Item, ItemType, ProcessingLogEntry, ThreadMessage
from postroom_shared.store.mongo.base import Doc, MongoBase, to_doc
from postroom_shared.store.mongo.ops import insert_log
from postroom_shared.store.ports import (
    AppendedMessage,
    ChangeResult,
    ItemChanges,
    ItemQuery,
    OutboxEvent,
)

__all__ = ["MongoItems"]


def _item_from(doc: Doc | None) -> Item | None:
    return Item.model_validate(doc) if doc else None


class MongoItems(MongoBase):
    """`ItemStore` on MongoDB."""

    async def next_item_number(self, item_type: ItemType) -> int:
        return (await self.next_item_numbers(item_type, 1))[0]

    async def next_item_numbers(self, item_type: ItemType, count: int) -> list[int]:
        if count < 1:
            return []
        doc = await self._db.counters.find_one_and_update(
            {"_id": f"item:{item_type.value}"},
            {"$inc": {"value": count}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        last = int(doc["value"])
        return list(range(last - count + 1, last + 1))

    async def item_for_mail(self, mail_key: str) -> Item | None:
        return _item_from(await self._db.items.find_one({"applied": mail_key}, {"outbox": 0}))

    async def _insert_message(self, message: ThreadMessage) -> bool:
        """Write the thread message; False when a document for its key was there already
        (an earlier attempt that crashed, or a concurrent call for the same mail)."""
        try:
            await self._db.messages.insert_one(to_doc(message, _id=message.key))
        except DuplicateKeyError:
            return False
        return True

    async def _own_message(self, message: ThreadMessage) -> None:
        """After winning the item write with a message document someone else wrote: make it
        ours, so the thread shows the message on the item that holds its key. A no-op
        (duplicate key on the upsert) when it names our item already."""
        with contextlib.suppress(DuplicateKeyError):
            await self._db.messages.replace_one(
                {"_id": message.key, "item_id": {"$ne": message.item_id}},
                to_doc(message, _id=message.key),
                upsert=True,
            )

    @staticmethod
    def _outbox(events: list[OutboxEvent]) -> list[Doc]:
        return [event.model_dump() for event in events]

    async def insert_item(
        self,
        item: Item,
        message: ThreadMessage,
        events: list[OutboxEvent],
        *,
        log: ProcessingLogEntry | None = None,
    ) -> bool:
        if await self.item_for_mail(message.key) is not None:
            return False
        fresh = await self._insert_message(message)
        doc = to_doc(item, _id=item.id, applied=[message.key], outbox=self._outbox(events))
        try:
            await self._db.items.insert_one(doc)
        except DuplicateKeyError:
            # Applied concurrently (the unique `applied` index, or the same item id): the
            # number this call allocated stays unused. Any other clash is a real error.
            if await self.item_for_mail(message.key) is not None:
                return False
            raise
        if not fresh:
            await self._own_message(message)
        if log is not None:
            await insert_log(self._db, log)
        return True

    async def append_message(
        self,
        item_id: str,
        message: ThreadMessage,
        events: list[OutboxEvent],
        *,
        add_participants: list[str],
        count: bool = True,
        changes: ItemChanges | None = None,
        log: ProcessingLogEntry | None = None,
    ) -> bool:
        if await self._db.items.find_one({"_id": item_id}, {"_id": 1}) is None:
            raise KeyError(item_id)
        write = AppendedMessage(item_id, message, events, add_participants, count, changes, log)
        return await self._appended(write, fresh=await self._insert_message(message))

    async def _appended(self, write: AppendedMessage, *, fresh: bool) -> bool:
        """The item's side of `append_message`, its thread message written (`fresh`: by this
        call) and the item known to exist."""
        message, changes = write.message, write.changes
        update: Doc = {
            "$addToSet": {"applied": message.key},
            "$set": {"updated_at": message.created_at},
            "$inc": {"message_count": 1 if write.count else 0, "version": 1},
        }
        if write.add_participants:
            update["$addToSet"]["participants"] = {"$each": write.add_participants}
        if changes is not None:
            if changes.status:
                update["$set"]["status"] = changes.status
            if changes.workflow_step:
                update["$set"]["workflow_step"] = changes.workflow_step
            if changes.bounced:
                update["$addToSet"]["bounced"] = {"$each": list(changes.bounced)}
        if write.events:
            update["$push"] = {"outbox": {"$each": self._outbox(write.events)}}
        try:
            result = await self._db.items.update_one(
                {"_id": write.item_id, "applied": {"$ne": message.key}}, update
            )
        except DuplicateKeyError:  # applied to another item first (unique `applied`)
            return False
        if result.modified_count != 1:
            return False
        if not fresh:
            await self._own_message(message)
        if write.log is not None:
            await insert_log(self._db, write.log)
        return True

    async def change_applied(self, applied_key: str) -> bool:
        return await self._db.items.find_one({"applied": applied_key}, {"_id": 1}) is not None

    async def apply_change(
        self,
        item_id: str,
        *,
        expected_version: int,
        applied_key: str,
        new_state: Item,
        message: ThreadMessage | None,
        events: list[OutboxEvent],
    ) -> ChangeResult:
        fresh = await self._insert_message(message) if message is not None else False
        state = new_state.model_copy(update={"id": item_id, "version": expected_version + 1})
        keys = [applied_key] + ([message.key] if message is not None else [])
        update: Doc = {"$set": state.model_dump(), "$addToSet": {"applied": {"$each": keys}}}
        if events:
            update["$push"] = {"outbox": {"$each": self._outbox(events)}}
        query: Doc = {"_id": item_id, "version": expected_version, "applied": {"$nin": keys}}
        try:
            result = await self._db.items.update_one(query, update)
        except DuplicateKeyError:  # a key already on another item (unique `applied`)
            return "duplicate"
        if result.modified_count == 1:
            if message is not None and not fresh:  # a crashed earlier try's (or a twin's)
                await self._db.messages.replace_one(
                    {"_id": message.key}, to_doc(message, _id=message.key), upsert=True
                )
            return "applied"
        if await self.change_applied(applied_key):
            return "duplicate"
        if message is not None:  # not applied: its thread entry must not show
            await self._db.messages.delete_one({"_id": message.key, "item_id": item_id})
        if await self._db.items.find_one({"_id": item_id}, {"_id": 1}) is None:
            raise KeyError(item_id)
        return "conflict"

    # reading -------------------------------------------------------------------------------
    async def get_item(self, item_id: str) -> Item | None:
        return _item_from(await self._db.items.find_one({"_id": item_id}))

    async def find_item_by_number(self, item_type: ItemType, number: int) -> Item | None:
        return _item_from(
            await self._db.items.find_one({"item_type": item_type.value, "number": number})
        )

    async def find_item_by_message_ids(
        self, account_id: str, message_ids: list[str]
    ) -> Item | None:
        ids = [mid for mid in message_ids if mid][:100]
        if not ids:
            return None
        cursor = (
            self._db.messages.find({"account_id": account_id, "message_id": {"$in": ids}})
            .sort("created_at", DESCENDING)
            .limit(1)
        )
        async for doc in cursor:
            return await self.get_item(str(doc["item_id"]))
        return None

    async def query_items(self, query: ItemQuery) -> list[Item]:
        # Every value is cast to a plain string: client JSON never becomes an operator.
        q = query
        match: Doc = {}
        if q.account_id is not None:
            match["account_id"] = str(q.account_id)
        if q.item_type is not None:
            match["item_type"] = q.item_type.value
        if q.status is not None:
            match["status"] = str(q.status)
        if q.project is not None:
            match["project"] = str(q.project)
        ands: list[Doc] = []
        if q.requester is not None:
            ands.append(
                {
                    "$or": [
                        {
                            "requester.address": {
                                "$regex": f"^{re.escape(str(q.requester))}$",
                                "$options": "i",
                            }
                        },
                        {"requester_id": str(q.requester)},
                    ]
                }
            )
        if q.text:
            ands.append({"title": {"$regex": re.escape(str(q.text)), "$options": "i"}})
        if q.before is not None:
            at, last_id = q.before
            ands.append(
                {"$or": [{"created_at": {"$lt": at}}, {"created_at": at, "_id": {"$lt": last_id}}]}
            )
        if ands:
            match["$and"] = ands
        return await self._models(
            Item,
            (
                self._db.items.find(match, {"outbox": 0, "applied": 0})
                .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
                .limit(q.limit)
            ),
        )

    async def list_messages(self, item_id: str) -> list[ThreadMessage]:
        return await self._models(
            ThreadMessage,
            self._db.messages.find({"item_id": item_id}).sort(
                [("created_at", ASCENDING), ("_id", ASCENDING)]
            ),
        )

    # outbox --------------------------------------------------------------------------------
    async def pending_events(self, *, limit: int = 100) -> list[OutboxEvent]:
        # The same predicate as the partial index `outbox_pending`, so only it is read.
        cursor = self._db.items.find({"outbox.event_id": {"$exists": True}}, {"outbox": 1}).limit(
            limit
        )
        events: list[OutboxEvent] = []
        async for doc in cursor:
            events.extend(OutboxEvent.model_validate(entry) for entry in doc["outbox"])
        return events[:limit]

    async def mark_published(self, event_id: str) -> None:
        await self._db.items.update_one(
            {"outbox.event_id": event_id}, {"$pull": {"outbox": {"event_id": event_id}}}
        )

    async def mark_all_published(self, event_ids: Sequence[str]) -> None:
        if event_ids:
            ids = list(event_ids)
            # `$exists` spelled out: the partial index `outbox_pending` serves queries that
            # contain its filter
            pending = {"$exists": True, "$in": ids}
            await self._db.items.update_many(
                {"outbox.event_id": pending}, {"$pull": {"outbox": {"event_id": {"$in": ids}}}}
            )
