"""The replies port on MongoDB: the reply ledger and the history of automatic mail.

A ledger claim is an insert (first claim) or one conditional update that takes over a stale
claim, so of two concurrent claims exactly one wins. Each send record carries its recipient's
domain, for the per-domain budget's index; one recorded by `finish_send` is keyed by its ledger
entry, so repeating that call keeps it once. The reads of `check_send` after the ledger's run
concurrently: one round trip's wait instead of three. The plural calls run their mails' calls
side by side (MongoDB has no transaction here to share: each stays single-document atomic).
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import Any, Literal

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from postroom_shared.models import LedgerEntry, ProcessingLogEntry, SendRecord, utcnow
from postroom_shared.store.mongo.base import MongoBase, to_doc
from postroom_shared.store.ports.replies import (
    Claim,
    FinishedSend,
    SendCheck,
    SendQuery,
    SendWindow,
)

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

    async def claim_ledger(self, entry: LedgerEntry, *, stale_before: datetime) -> Claim:
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

    async def claim_ledgers(
        self, entries: Sequence[LedgerEntry], *, stale_before: datetime
    ) -> list[Claim]:
        firsts: list[int] = []
        repeats: list[int] = []  # an entry whose key came before: claimed after that one
        seen: set[str] = set()
        for index, entry in enumerate(entries):
            key = self._ledger_id(entry.item_id, entry.reason, entry.recipient)
            (repeats if key in seen else firsts).append(index)
            seen.add(key)
        claims: dict[int, Claim] = {}
        for wave in (firsts, repeats):
            outcomes = await asyncio.gather(
                *(self.claim_ledger(entries[i], stale_before=stale_before) for i in wave)
            )
            claims.update(zip(wave, outcomes, strict=True))
        return [claims[index] for index in range(len(entries))]

    async def check_sends(self, queries: Sequence[SendQuery]) -> list[SendCheck]:
        return list(
            await asyncio.gather(
                *(self.check_send(q.item_id, q.reason, q.recipient, q.window) for q in queries)
            )
        )

    async def finish_sends(self, sends: Sequence[FinishedSend]) -> None:
        await asyncio.gather(*(self.finish_send(s.entry, s.record, s.log) for s in sends))

    async def mark_done(self, entry: LedgerEntry, state: Literal["sent", "failed"]) -> None:
        await self._db.ledger.update_one(
            {"_id": self._ledger_id(entry.item_id, entry.reason, entry.recipient)},
            {"$set": {"state": state, "sent_at": entry.sent_at or utcnow()}},
        )

    async def check_send(
        self, item_id: str, reason: str, recipient: str, window: SendWindow | None
    ) -> SendCheck:
        held = await self.get_ledger(item_id, reason, recipient)
        if held is not None or window is None:
            return SendCheck(held)

        async def counted(budget: int, domain: str | None) -> int:
            if not budget:
                return 0
            return await self.count_sends_since(window.budget_since, domain=domain, limit=budget)

        history, sent, to_domain = await asyncio.gather(
            self.sends_since(recipient, window.since),
            counted(window.budget, None),
            counted(window.domain_budget, recipient.rsplit("@", 1)[-1]),
        )
        return SendCheck(None, history, sent, to_domain)

    async def finish_send(
        self, entry: LedgerEntry, record: SendRecord, log: ProcessingLogEntry | None
    ) -> None:
        await self.mark_done(entry, "sent")  # first: what keeps the mail from going out twice
        key = self._ledger_id(entry.item_id, entry.reason, entry.recipient)
        writes: list[Awaitable[object]] = [
            self._db.sends.update_one(
                {"_id": key}, {"$setOnInsert": _send_doc(record)}, upsert=True
            )
        ]
        if log is not None:
            writes.append(self._insert_log(log))
        await asyncio.gather(*writes)

    async def _insert_log(self, log: ProcessingLogEntry) -> None:
        with contextlib.suppress(DuplicateKeyError):  # the entry is there: a repeat
            await self._db.processing_log.insert_one(to_doc(log, _id=log.id))

    # automatic mail history ----------------------------------------------------------------
    async def record_send(self, record: SendRecord) -> None:
        await self._db.sends.insert_one(_send_doc(record))

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


def _send_doc(record: SendRecord) -> dict[str, Any]:
    # the recipient's domain is stored alongside for the per-domain budget's index
    return {**record.model_dump(), "domain": record.recipient.rsplit("@", 1)[-1].lower()}
