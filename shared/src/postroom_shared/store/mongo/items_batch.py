"""Many mails in one call on MongoDB (`ItemBatches`): the converter's group commit.

Single-document atomicity stays all it takes (docs/decisions.md, "Storage"): a batch runs the
steps `insert_item` and `append_message` run, in the same order, each as one bulk operation
over the batch instead of one operation per mail: which mail keys are applied already (one
query), the new items' contacts (one unordered `insert_many`, what `ensure_contact` inserts; a
clash is looked up: the contact itself is fine, another owner of the address fails that mail
with `ContactClash` before anything of it is written), the writes' blobs (`put_blob` each, side
by side), the thread message documents (one unordered `insert_many`), the new items (one
unordered `insert_many`: a duplicate key is that mail's "already applied"), the appends (one
conditional `update_one` per mail, side by side: a bulk write reports only how many matched,
not which, and "False when already appended" needs which), then the log entries (one unordered
`insert_many`, first record per id wins). A write that fails is reported as its result and does
not stop the others.
"""

import asyncio
import dataclasses
from collections.abc import Sequence

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure

from postroom_shared.models import Item, Person, ProcessingLogEntry
from postroom_shared.store.mongo.base import Doc, to_doc
from postroom_shared.store.mongo.blobs import MongoBlobs
from postroom_shared.store.mongo.items import MongoItems
from postroom_shared.store.ports import (
    AppendedMessage,
    ContactClash,
    MailWrite,
    NewItem,
    WriteResult,
)

__all__ = ["MongoItemBatches"]

_DUPLICATE_KEY = 11000


async def _insert_many(collection: AsyncCollection[Doc], docs: list[Doc]) -> dict[int, Exception]:
    """Unordered `insert_many`; the failed documents by index (duplicates and other errors)."""
    if not docs:
        return {}
    try:
        await collection.insert_many(docs, ordered=False)
    except BulkWriteError as exc:
        return {int(err["index"]): _error(err) for err in exc.details.get("writeErrors", [])}
    return {}


def _error(err: Doc) -> Exception:
    message = str(err.get("errmsg", err))
    if err.get("code") == _DUPLICATE_KEY:
        return DuplicateKeyError(message, _DUPLICATE_KEY, err)
    return OperationFailure(f"MongoDB refused the write: {message}", err.get("code"), err)


def _without_log(write: MailWrite) -> AppendedMessage:
    """The append without its log entry: the batch writes every entry in one go."""
    assert isinstance(write, AppendedMessage)
    return dataclasses.replace(write, log=None)


def _is_duplicate(exc: Exception | None) -> bool:
    return isinstance(exc, DuplicateKeyError)


class MongoItemBatches(MongoItems, MongoBlobs):
    """`ItemBatches` on MongoDB."""

    async def items_for_mails(self, mail_keys: Sequence[str]) -> dict[str, Item]:
        keys = set(mail_keys)
        if not keys:
            return {}
        found: dict[str, Item] = {}
        async for doc in self._db.items.find({"applied": {"$in": list(keys)}}, {"outbox": 0}):
            item = Item.model_validate(doc)
            found.update({key: item for key in doc.get("applied", []) if key in keys})
        return found

    async def write_mails(self, writes: Sequence[MailWrite]) -> list[WriteResult]:
        if not writes:
            return []
        results: list[WriteResult | None] = [None] * len(writes)
        keys = list({w.message.key for w in writes})
        applied = {
            key
            async for doc in self._db.items.find({"applied": {"$in": keys}}, {"applied": 1})
            for key in doc["applied"]
        }
        targets = {w.item_id for w in writes if isinstance(w, AppendedMessage)}
        existing = {w.item.id for w in writes if isinstance(w, NewItem)}  # a reply to a new item
        if targets - existing:
            found = self._db.items.find({"_id": {"$in": list(targets - existing)}}, {"_id": 1})
            existing |= {doc["_id"] async for doc in found}
        for n, w in enumerate(writes):
            if w.message.key in applied:
                results[n] = False
            elif isinstance(w, AppendedMessage) and w.item_id not in existing:
                results[n] = KeyError(w.item_id)
        await self._ensure_contacts(writes, results)
        await self._store_blobs(writes, results)
        todo = [n for n, r in enumerate(results) if r is None]
        # thread messages first (the order `insert_item` keeps: a crash leaves an orphan
        # message the retry adopts, never an item without its first message)
        failed = await _insert_many(
            self._db.messages, [to_doc(writes[n].message, _id=writes[n].message.key) for n in todo]
        )
        fresh = {n: not _is_duplicate(failed.get(i)) for i, n in enumerate(todo)}
        for i, n in enumerate(todo):
            if (exc := failed.get(i)) is not None and not _is_duplicate(exc):
                results[n] = exc
        await self._write_items(writes, results, fresh)
        await self._write_logs(writes, results)
        return [r if r is not None else False for r in results]

    async def _ensure_contacts(
        self, writes: Sequence[MailWrite], results: list[WriteResult | None]
    ) -> None:
        """The contacts of the new items still to write, in one insert; a mail whose contact
        clashed with another owner of its address gets that as its result."""
        wanting = [
            (n, w.contact)
            for n, w in enumerate(writes)
            if results[n] is None and isinstance(w, NewItem) and w.contact is not None
        ]
        failed = await _insert_many(
            self._db.people, [to_doc(contact, _id=contact.id) for _, contact in wanting]
        )
        for i, exc in failed.items():
            n, contact = wanting[i]
            if not _is_duplicate(exc):
                results[n] = exc
            elif (owner := await self._owner(contact)) != contact.id:
                results[n] = ContactClash(
                    f"{contact.emails[0]} belongs to {owner} now, not to {contact.id}"
                )

    async def _store_blobs(
        self, writes: Sequence[MailWrite], results: list[WriteResult | None]
    ) -> None:
        """The blobs of the writes still to make, before their messages reference them; a
        write whose blob failed gets that as its result."""
        pending = [
            (n, data) for n, w in enumerate(writes) if results[n] is None for data in w.blobs
        ]
        done = await asyncio.gather(
            *(self.put_blob(data) for _, data in pending), return_exceptions=True
        )
        for (n, _), outcome in zip(pending, done, strict=True):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, Exception):
                    raise outcome  # cancelled: not a result
                results[n] = outcome

    async def _owner(self, contact: Person) -> str | None:
        """The id of the person owning the contact's address (`find_person`'s query)."""
        doc = await self._db.people.find_one({"emails": contact.emails[0].lower()}, {"_id": 1})
        return None if doc is None else str(doc["_id"])

    async def _write_items(
        self, writes: Sequence[MailWrite], results: list[WriteResult | None], fresh: dict[int, bool]
    ) -> None:
        new = [n for n, w in enumerate(writes) if results[n] is None and isinstance(w, NewItem)]
        docs = []
        for n in new:
            w = writes[n]
            assert isinstance(w, NewItem)
            docs.append(
                to_doc(
                    w.item, _id=w.item.id, applied=[w.message.key], outbox=self._outbox(w.events)
                )
            )
        failed = await _insert_many(self._db.items, docs)
        clashed = [writes[new[i]].message.key for i in failed]
        # applied concurrently (another converter won: its number stays a gap), else an error
        won_elsewhere = await self.items_for_mails(clashed) if clashed else {}
        for i, n in enumerate(new):
            exc = failed.get(i)
            if exc is None:
                results[n] = True
                if not fresh[n]:
                    await self._own_message(writes[n].message)
            elif writes[n].message.key in won_elsewhere:
                results[n] = False
            else:
                results[n] = exc
        appends = [n for n, w in enumerate(writes) if results[n] is None]
        done = await asyncio.gather(
            *(self._appended(_without_log(writes[n]), fresh=fresh[n]) for n in appends),
            return_exceptions=True,
        )
        for n, outcome in zip(appends, done, strict=True):
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome  # cancelled: not a result
            results[n] = outcome

    async def _write_logs(
        self, writes: Sequence[MailWrite], results: list[WriteResult | None]
    ) -> None:
        entries: list[ProcessingLogEntry] = [
            w.log for w, r in zip(writes, results, strict=True) if r is True and w.log is not None
        ]
        failed = await _insert_many(self._db.processing_log, [to_doc(e, _id=e.id) for e in entries])
        for exc in failed.values():
            if not _is_duplicate(exc):  # the items are written: the call fails as a whole
                raise exc
