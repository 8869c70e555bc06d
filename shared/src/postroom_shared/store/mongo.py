"""The production store: MongoDB through PyMongo's async API, GridFS for blobs.

Designed for single-document atomicity (docs/architecture.md, "Storage"), because no
multi-document transaction is needed and the MongoDB-compatible test server mishandles
conflicting ones:
- item numbers come from one counter document per item type (`$inc`, upsert, AFTER);
- a mail is applied to an item once: the item document lists the mail keys applied to it in
  `applied`, under a unique (multikey) index, so two items can never hold one key; the update
  that appends a message carries `applied: {$ne: key}` in its filter, and a duplicate-key
  error means another call applied the mail first;
- events ride in the item document's `outbox` array, written by the same update that changes
  the item, published afterwards and `$pull`ed (a relay re-publishes leftovers after a crash).
The thread message documents are written first, keyed by the mail key, so a crash between the
two writes leaves only an orphan message that the retry adopts; the call that wins the item
write makes that message its own.

Every call is bounded in time (`StoreOptions`) and a server that does not answer becomes a
`StoreUnavailableError` (`mongo_bounds.py`); retention purges live in `mongo_retention.py`.
"""

import contextlib
import hashlib
import re
from datetime import datetime, timedelta
from typing import Any, Literal

import pymongo
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure
from pymongo.uri_parser import parse_uri

from postroom_shared.logs import get_logger
from postroom_shared.models import (
    AccountState,
    ApiKey,
    Checkpoint,
    EmailAccount,
    Item,
    ItemType,
    LedgerEntry,
    NotificationTemplate,
    Person,
    ProcessingLogEntry,
    QuarantineEntry,
    SendRecord,
    ServiceHeartbeat,
    SmtpSettings,
    ThreadMessage,
    Workflow,
    utcnow,
)
from postroom_shared.store.blobs_gridfs import GridFsBlobs
from postroom_shared.store.mongo_bounds import bounded_calls, client_bounds
from postroom_shared.store.mongo_retention import Doc, MongoRetention
from postroom_shared.store.ports import ItemChanges, ItemQuery, OutboxEvent, StoreOptions
from postroom_shared.store.ports.blobs import BlobWriter

__all__ = ["MongoStore"]

log = get_logger(__name__)
SCHEMA_TIMEOUT_S = 600.0
_DUPLICATE_KEY, _INDEX_NOT_FOUND, _INDEX_CHANGED = 11000, 27, (85, 86)


def _item_from(doc: Doc | None) -> Item | None:
    return Item.model_validate(doc) if doc else None


def _to_doc(model: Any, **extra: Any) -> Doc:
    doc: Doc = model.model_dump()
    doc.update(extra)
    return doc


@bounded_calls
class MongoStore(MongoRetention):
    """`Store` on a MongoDB database (name from the URL path, default `postroom`)."""

    def __init__(self, url: str, options: StoreOptions | None = None) -> None:
        self._url = url
        self._options = options or StoreOptions()
        self._dbname = parse_uri(url).get("database") or "postroom"
        self._client: AsyncMongoClient[Doc] | None = None

    @property
    def blob_timeout_s(self) -> float:
        return self._options.blob_timeout_s

    @property
    def _db(self) -> AsyncDatabase[Doc]:
        if self._client is None:
            raise RuntimeError("store is not connected")
        return self._client[self._dbname]

    # lifecycle -----------------------------------------------------------------------------
    async def connect(self) -> None:
        self._client = AsyncMongoClient(
            self._url, tz_aware=True, **client_bounds(self._url, self._options)
        )
        try:
            # No server: fail within the ordinary bound. Then building an index over a large
            # existing collection (the first start after an upgrade) may take minutes.
            await self.ping()
            with pymongo.timeout(max(SCHEMA_TIMEOUT_S, self._options.timeout_s)):
                await self._create_indexes()
        except BaseException:
            # Unreachable server or a cancelled start: do not leave the client's threads behind.
            await self.close()
            raise

    async def _create_indexes(self) -> None:
        # One index per lookup the methods below make (tests/contract/test_mongo_indexes.py
        # checks each with explain()). Not indexed on purpose: the small configuration
        # collections (accounts, settings, workflows, templates, people by kind) and the
        # free-text filters of `query_items` (title, requester, status, project), which ride
        # on the created_at order and the page limit.
        db = self._db
        await db.accounts.create_index("name", unique=True)
        await db.items.create_index([("item_type", ASCENDING), ("number", ASCENDING)], unique=True)
        await self._unique_applied_index()
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
        await self._create_retention_indexes()

    async def _unique_applied_index(self) -> None:
        """`applied` unique: the guarantee that one mail makes one item. A database from
        before it had a plain index, and the race it allowed may have left a mail key on two
        items: the key stays on the item its thread message names (else the oldest) and is
        pulled from the others, which are logged and left in place for a human (an item left
        with no key gets `released:<its id>`, never a mail key)."""
        items = self._db.items
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
                    await self._release_doubly_applied_keys()
                elif exc.code not in _INDEX_CHANGED:
                    raise
        await items.create_index("applied", unique=True)  # the last word: raises if it cannot

    async def _release_doubly_applied_keys(self) -> None:
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
        async for group in await self._db.items.aggregate(pipeline):
            key = group["_id"]
            message = await self._db.messages.find_one({"_id": key}, {"item_id": 1})
            holders = sorted(group["items"], key=lambda h: h["at"])
            keep = next(
                (h["id"] for h in holders if message and h["id"] == message["item_id"]),
                holders[0]["id"],
            )
            others = [h["id"] for h in holders if h["id"] != keep]
            for other in others:
                await self._db.items.update_one({"_id": other}, {"$pull": {"applied": key}})
                # An empty array is one (null) key of the unique index: several would clash.
                await self._db.items.update_one(
                    {"_id": other, "applied": {"$size": 0}},
                    {"$set": {"applied": [f"released:{other}"]}},
                )
            log.warning(
                "mail key was applied to several items; kept on one",
                mail_key=key,
                kept_on=keep,
                duplicates=others,
            )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def ping(self) -> None:
        await self._db.command("ping")

    # configuration -------------------------------------------------------------------------
    async def put_account(self, account: EmailAccount) -> None:
        try:
            await self._db.accounts.replace_one(
                {"_id": account.id}, _to_doc(account, _id=account.id), upsert=True
            )
        except DuplicateKeyError as exc:
            raise ValueError(f"an account named {account.name!r} already exists") from exc

    async def get_account(self, account_id: str) -> EmailAccount | None:
        doc = await self._db.accounts.find_one({"_id": account_id})
        return EmailAccount.model_validate(doc) if doc else None

    async def list_accounts(self, *, active_only: bool = False) -> list[EmailAccount]:
        query: Doc = {"active": True} if active_only else {}
        cursor = self._db.accounts.find(query).sort("name", ASCENDING)
        return [EmailAccount.model_validate(doc) async for doc in cursor]

    async def get_smtp_settings(self) -> SmtpSettings | None:
        doc = await self._db.settings.find_one({"_id": "smtp"})
        return SmtpSettings.model_validate(doc) if doc else None

    async def put_smtp_settings(self, settings: SmtpSettings) -> None:
        await self._db.settings.replace_one(
            {"_id": "smtp"}, _to_doc(settings, _id="smtp"), upsert=True
        )

    async def put_workflow(self, workflow: Workflow) -> None:
        await self._db.workflows.replace_one(
            {"_id": workflow.id}, _to_doc(workflow, _id=workflow.id), upsert=True
        )

    async def put_template(self, template: NotificationTemplate) -> None:
        await self._db.templates.replace_one(
            {"_id": template.id}, _to_doc(template, _id=template.id), upsert=True
        )

    async def get_template(self, template_id: str) -> NotificationTemplate | None:
        doc = await self._db.templates.find_one({"_id": str(template_id)})
        return NotificationTemplate.model_validate(doc) if doc else None

    async def get_workflow(self, workflow_id: str) -> Workflow | None:
        doc = await self._db.workflows.find_one({"_id": workflow_id})
        return Workflow.model_validate(doc) if doc else None

    async def put_person(self, person: Person) -> None:
        try:
            await self._db.people.replace_one(
                {"_id": person.id}, _to_doc(person, _id=person.id), upsert=True
            )
        except DuplicateKeyError as exc:
            raise ValueError(f"an address of {person.id} belongs to another person") from exc

    async def find_person(self, address: str) -> Person | None:
        doc = await self._db.people.find_one({"emails": str(address).lower()})
        return Person.model_validate(doc) if doc else None

    async def ensure_contact(self, person: Person) -> Person:
        try:
            await self._db.people.insert_one(_to_doc(person, _id=person.id))
        except DuplicateKeyError:
            existing = await self.find_person(person.emails[0])
            if existing is not None:
                return existing
            raise
        return person

    # checkpoints ---------------------------------------------------------------------------
    async def get_checkpoint(self, account_id: str, folder: str) -> Checkpoint | None:
        doc = await self._db.checkpoints.find_one({"_id": f"{account_id}\x1f{folder}"})
        return Checkpoint.model_validate(doc) if doc else None

    async def set_checkpoint(self, checkpoint: Checkpoint) -> None:
        key = f"{checkpoint.account_id}\x1f{checkpoint.folder}"
        await self._db.checkpoints.replace_one(
            {"_id": key}, _to_doc(checkpoint, _id=key), upsert=True
        )

    # blobs ---------------------------------------------------------------------------------
    async def put_blob(self, data: bytes) -> str:
        return await GridFsBlobs(self._db).put(data)

    async def open_blob_writer(self) -> BlobWriter:
        return GridFsBlobs(self._db).writer()

    async def get_blob(self, ref: str) -> bytes:
        return await GridFsBlobs(self._db).get(ref)

    # items ---------------------------------------------------------------------------------
    async def next_item_number(self, item_type: ItemType) -> int:
        doc = await self._db.counters.find_one_and_update(
            {"_id": f"item:{item_type.value}"},
            {"$inc": {"value": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        return int(doc["value"])

    async def item_for_mail(self, mail_key: str) -> Item | None:
        return _item_from(await self._db.items.find_one({"applied": mail_key}, {"outbox": 0}))

    async def _insert_message(self, message: ThreadMessage) -> bool:
        """Write the thread message; False when a document for its key was there already
        (an earlier attempt that crashed, or a concurrent call for the same mail)."""
        try:
            await self._db.messages.insert_one(_to_doc(message, _id=message.key))
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
                _to_doc(message, _id=message.key),
                upsert=True,
            )

    @staticmethod
    def _outbox(events: list[OutboxEvent]) -> list[Doc]:
        return [event.model_dump() for event in events]

    async def insert_item(
        self, item: Item, message: ThreadMessage, events: list[OutboxEvent]
    ) -> bool:
        if await self.item_for_mail(message.key) is not None:
            return False
        fresh = await self._insert_message(message)
        doc = _to_doc(item, _id=item.id, applied=[message.key], outbox=self._outbox(events))
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
    ) -> bool:
        if await self._db.items.find_one({"_id": item_id}, {"_id": 1}) is None:
            raise KeyError(item_id)
        fresh = await self._insert_message(message)
        update: Doc = {
            "$addToSet": {"applied": message.key},
            "$set": {"updated_at": message.created_at},
            "$inc": {"message_count": 1 if count else 0},
        }
        if add_participants:
            update["$addToSet"]["participants"] = {"$each": add_participants}
        if changes is not None:
            if changes.status:
                update["$set"]["status"] = changes.status
            if changes.workflow_step:
                update["$set"]["workflow_step"] = changes.workflow_step
            if changes.bounced:
                update["$addToSet"]["bounced"] = {"$each": list(changes.bounced)}
        if events:
            update["$push"] = {"outbox": {"$each": self._outbox(events)}}
        try:
            result = await self._db.items.update_one(
                {"_id": item_id, "applied": {"$ne": message.key}}, update
            )
        except DuplicateKeyError:  # applied to another item first (unique `applied`)
            return False
        if result.modified_count != 1:
            return False
        if not fresh:
            await self._own_message(message)
        return True

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

    async def list_messages(self, item_id: str) -> list[ThreadMessage]:
        cursor = self._db.messages.find({"item_id": item_id}).sort(
            [("created_at", ASCENDING), ("_id", ASCENDING)]
        )
        return [ThreadMessage.model_validate(doc) async for doc in cursor]

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

    # ledger --------------------------------------------------------------------------------
    @staticmethod
    def _ledger_id(item_id: str, reason: str, recipient: str) -> str:
        return "\x1f".join((item_id, reason, recipient))

    async def get_ledger(self, item_id: str, reason: str, recipient: str) -> LedgerEntry | None:
        doc = await self._db.ledger.find_one({"_id": self._ledger_id(item_id, reason, recipient)})
        return LedgerEntry.model_validate(doc) if doc else None

    async def claim_ledger(
        self, entry: LedgerEntry, *, stale_before: datetime
    ) -> Literal["claimed", "done", "busy"]:
        key = self._ledger_id(entry.item_id, entry.reason, entry.recipient)
        try:
            await self._db.ledger.insert_one(_to_doc(entry, _id=key))
            return "claimed"
        except DuplicateKeyError:
            pass
        taken = await self._db.ledger.find_one_and_update(
            {"_id": key, "state": "sending", "claimed_at": {"$lt": stale_before}},
            {"$set": {"claimed_at": entry.claimed_at, "message_id": entry.message_id}},
        )
        if taken is not None:
            return "claimed"
        held = await self._db.ledger.find_one({"_id": key}, {"state": 1})
        return "done" if held is not None and held.get("state") != "sending" else "busy"

    async def mark_done(self, entry: LedgerEntry, state: Literal["sent", "failed"]) -> None:
        await self._db.ledger.update_one(
            {"_id": self._ledger_id(entry.item_id, entry.reason, entry.recipient)},
            {"$set": {"state": state, "sent_at": entry.sent_at or utcnow()}},
        )

    # quarantine and processing log --------------------------------------------------------
    async def put_quarantine(self, entry: QuarantineEntry) -> None:
        doc = _to_doc(entry, _id=entry.id)
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
        doc = await self._db.quarantine.find_one({"_id": entry_id})
        return QuarantineEntry.model_validate(doc) if doc else None

    async def list_quarantine(self, *, limit: int = 100) -> list[QuarantineEntry]:
        cursor = self._db.quarantine.find({}).sort("created_at", DESCENDING).limit(limit)
        return [QuarantineEntry.model_validate(doc) async for doc in cursor]

    async def delete_quarantine(self, entry_id: str) -> bool:
        result = await self._db.quarantine.delete_one({"_id": entry_id})
        return result.deleted_count == 1

    async def put_log(self, entry: ProcessingLogEntry) -> None:
        with contextlib.suppress(DuplicateKeyError):
            await self._db.processing_log.insert_one(_to_doc(entry, _id=entry.id))

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
        cursor = (
            self._db.processing_log.find(query)
            .sort([("at", DESCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [ProcessingLogEntry.model_validate(doc) async for doc in cursor]

    # automatic mail history --------------------------------------------------------------
    async def record_send(self, record: SendRecord) -> None:
        # the recipient's domain is stored alongside for the per-domain budget's index
        domain = record.recipient.rsplit("@", 1)[-1].lower()
        await self._db.sends.insert_one({**record.model_dump(), "domain": domain})

    async def sends_since(self, recipient: str, since: datetime) -> list[SendRecord]:
        cursor = self._db.sends.find({"recipient": str(recipient), "at": {"$gte": since}}).sort(
            "at", ASCENDING
        )
        return [SendRecord.model_validate(doc) async for doc in cursor]

    async def count_sends_since(
        self, since: datetime, *, domain: str | None = None, limit: int
    ) -> int:
        query: dict[str, Any] = {"at": {"$gte": since}}
        if domain:
            query["domain"] = domain.lower()
        return await self._db.sends.count_documents(query, limit=limit)

    async def account_sends_since(
        self, account_id: str, since: datetime, *, limit: int
    ) -> list[SendRecord]:
        cursor = (
            self._db.sends.find({"account_id": account_id, "at": {"$gte": since}})
            .sort("at", ASCENDING)
            .limit(limit)
        )
        return [SendRecord.model_validate(doc) async for doc in cursor]

    # health --------------------------------------------------------------------------------
    async def heartbeat(self, beat: ServiceHeartbeat) -> None:
        key = f"{beat.service}\x1f{beat.instance}"
        doc = beat.model_dump()
        doc["_id"] = key
        await self._db.heartbeats.replace_one({"_id": key}, doc, upsert=True)

    async def heartbeats(self, *, since: datetime) -> list[ServiceHeartbeat]:
        cursor = self._db.heartbeats.find({"seen_at": {"$gte": since}})
        return [ServiceHeartbeat.model_validate(doc) async for doc in cursor]

    # configuration: listing and deleting ---------------------------------------------------
    async def delete_smtp_settings(self) -> bool:
        return (await self._db.settings.delete_one({"_id": "smtp"})).deleted_count > 0

    async def delete_account(self, account_id: str) -> bool:
        # Its fetch state goes with it; items, threads and the log stay (they are history).
        key = str(account_id)
        await self._db.account_states.delete_one({"_id": key})
        await self._db.checkpoints.delete_many({"account_id": key})
        await self._db.seen_keys.delete_many({"account_id": key})
        await self._db.leases.delete_one({"_id": f"fetch:{key}"})
        return (await self._db.accounts.delete_one({"_id": key})).deleted_count > 0

    async def list_workflows(self) -> list[Workflow]:
        cursor = self._db.workflows.find({}).sort("_id", ASCENDING)
        return [Workflow.model_validate(doc) async for doc in cursor]

    async def delete_workflow(self, workflow_id: str) -> bool:
        return (await self._db.workflows.delete_one({"_id": str(workflow_id)})).deleted_count > 0

    async def list_templates(self) -> list[NotificationTemplate]:
        cursor = self._db.templates.find({}).sort("_id", ASCENDING)
        return [NotificationTemplate.model_validate(doc) async for doc in cursor]

    async def delete_template(self, template_id: str) -> bool:
        return (await self._db.templates.delete_one({"_id": str(template_id)})).deleted_count > 0

    async def get_person(self, person_id: str) -> Person | None:
        doc = await self._db.people.find_one({"_id": str(person_id)})
        return Person.model_validate(doc) if doc else None

    async def list_people(self, *, kind: str | None = None, limit: int = 100) -> list[Person]:
        query: Doc = {"kind": str(kind)} if kind is not None else {}
        cursor = self._db.people.find(query).sort("_id", ASCENDING).limit(limit)
        return [Person.model_validate(doc) async for doc in cursor]

    async def delete_person(self, person_id: str) -> bool:
        return (await self._db.people.delete_one({"_id": str(person_id)})).deleted_count > 0

    async def set_refresh_token(self, owner: str, refresh_token_enc: str) -> bool:
        collection = self._db.settings if owner == "smtp" else self._db.accounts
        result = await collection.update_one(
            {"_id": str(owner), "oauth": {"$type": "object"}},
            {"$set": {"oauth.refresh_token_enc": str(refresh_token_enc)}},
        )
        return result.matched_count > 0

    # items: filtered listing ---------------------------------------------------------------
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
        cursor = (
            self._db.items.find(match, {"outbox": 0, "applied": 0})
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(q.limit)
        )
        return [Item.model_validate(doc) async for doc in cursor]

    async def count_quarantine(self) -> int:
        return await self._db.quarantine.count_documents({})

    # API keys ------------------------------------------------------------------------------
    async def put_api_key(self, key: ApiKey) -> None:
        await self._db.api_keys.replace_one({"_id": key.id}, _to_doc(key, _id=key.id), upsert=True)

    async def get_api_key_by_hash(self, key_hash: str) -> ApiKey | None:
        doc = await self._db.api_keys.find_one({"key_hash": str(key_hash)})
        return ApiKey.model_validate(doc) if doc else None

    async def list_api_keys(self) -> list[ApiKey]:
        cursor = self._db.api_keys.find({}).sort("_id", ASCENDING)
        return [ApiKey.model_validate(doc) async for doc in cursor]

    async def revoke_api_key(self, key_id: str) -> bool:
        result = await self._db.api_keys.update_one(
            {"_id": str(key_id), "revoked_at": None}, {"$set": {"revoked_at": utcnow()}}
        )
        return result.modified_count > 0

    # OAuth sign-in states used (single-use): the state id is the _id, so of two concurrent
    # uses one insert fails; documents past their state's expiry go with each new use.
    async def consume_oauth_state(self, state_id: str, expires_at: datetime) -> bool:
        await self._db.oauth_states.delete_many({"expires_at": {"$lt": utcnow()}})
        try:
            await self._db.oauth_states.insert_one({"_id": str(state_id), "expires_at": expires_at})
        except DuplicateKeyError:
            return False
        return True

    # fetcher coordination ------------------------------------------------------------------
    async def put_account_state(self, state: AccountState) -> None:
        await self._db.account_states.replace_one(
            {"_id": state.account_id}, _to_doc(state, _id=state.account_id), upsert=True
        )

    async def get_account_state(self, account_id: str) -> AccountState | None:
        doc = await self._db.account_states.find_one({"_id": str(account_id)})
        return AccountState.model_validate(doc) if doc else None

    async def list_account_states(self) -> list[AccountState]:
        cursor = self._db.account_states.find({}).sort("_id", ASCENDING)
        return [AccountState.model_validate(doc) async for doc in cursor]

    async def acquire_lease(self, name: str, owner: str, ttl_s: float) -> bool:
        # One upsert: it matches a lease we hold or one that expired; a live lease of another
        # owner makes the upsert collide on _id, which means "taken".
        now = utcnow()
        try:
            await self._db.leases.update_one(
                {"_id": str(name), "$or": [{"owner": str(owner)}, {"expires": {"$lt": now}}]},
                {"$set": {"owner": str(owner), "expires": now + timedelta(seconds=ttl_s)}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return True

    async def release_lease(self, name: str, owner: str) -> None:
        await self._db.leases.delete_one({"_id": str(name), "owner": str(owner)})

    @staticmethod
    def _seen_id(account_id: str, namespace: str, key: str) -> str:
        return hashlib.sha256(f"{account_id}\x1f{namespace}\x1f{key}".encode()).hexdigest()

    async def seen_keys(self, account_id: str, namespace: str, keys: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = [str(k) for k in keys[start : start + 500]]
            cursor = self._db.seen_keys.find(
                {"account_id": str(account_id), "namespace": str(namespace), "key": {"$in": chunk}}
            )
            found.update([doc["key"] async for doc in cursor])
        return found

    async def add_seen_keys(self, account_id: str, namespace: str, keys: list[str]) -> None:
        now = utcnow()
        for key in keys:
            doc = {"account_id": str(account_id), "namespace": str(namespace), "key": str(key)}
            await self._db.seen_keys.update_one(
                {"_id": self._seen_id(account_id, namespace, key)},
                {"$set": doc, "$setOnInsert": {"at": now}},  # `at`: first recorded (retention)
                upsert=True,
            )

    async def prune_seen_keys(self, account_id: str, namespace: str, keep: list[str]) -> int:
        result = await self._db.seen_keys.delete_many(
            {
                "account_id": str(account_id),
                "namespace": str(namespace),
                "key": {"$nin": [str(k) for k in keep]},
            }
        )
        return result.deleted_count
