"""The replies port on MongoDB: the reply ledger and the history of automatic mail.

A ledger claim is an insert (first claim) or one conditional update that takes over a stale
claim, so of two concurrent claims exactly one wins. Each send record carries its recipient's
domain, for the per-domain budget's index.
"""

from datetime import datetime
from typing import Any, Literal

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from postroom_shared.models import LedgerEntry, SendRecord, utcnow
from postroom_shared.store.mongo.base import MongoBase, to_doc

__all__ = ["MongoReplies"]


class MongoReplies(MongoBase):
    """`ReplyStore` on MongoDB."""

    @staticmethod
    def _ledger_id(item_id: str, reason: str, recipient: str) -> str:
        return "\x1f".join((item_id, reason, recipient))

    async def get_ledger(self, item_id: str, reason: str, recipient: str) -> LedgerEntry | None:
        return await self._find(
            LedgerEntry, "ledger", {"_id": self._ledger_id(item_id, reason, recipient)}
        )

    async def claim_ledger(
        self, entry: LedgerEntry, *, stale_before: datetime
    ) -> Literal["claimed", "done", "busy"]:
        key = self._ledger_id(entry.item_id, entry.reason, entry.recipient)
        try:
            await self._db.ledger.insert_one(to_doc(entry, _id=key))
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

    # automatic mail history ----------------------------------------------------------------
    async def record_send(self, record: SendRecord) -> None:
        # the recipient's domain is stored alongside for the per-domain budget's index
        domain = record.recipient.rsplit("@", 1)[-1].lower()
        await self._db.sends.insert_one({**record.model_dump(), "domain": domain})

    async def sends_since(self, recipient: str, since: datetime) -> list[SendRecord]:
        return await self._models(
            SendRecord,
            self._db.sends.find({"recipient": str(recipient), "at": {"$gte": since}}).sort(
                "at", ASCENDING
            ),
        )

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
        return await self._models(
            SendRecord,
            (
                self._db.sends.find({"account_id": account_id, "at": {"$gte": since}})
                .sort("at", ASCENDING)
                .limit(limit)
            ),
        )
