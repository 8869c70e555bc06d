"""Group commit: the ledger calls of concurrent handlers share one store round trip.

The replier handles up to its prefetch of events at once (docs/architecture.md, consuming), and
each automatic mail makes the same three ledger calls (check, claim, finish). Every call was a
round trip of its own (on SQLite a hop to the store's thread and, for the claim and the finish,
a transaction each). Here a call waits for the event loop's next turn: every handler that
reaches the same step meanwhile joins it, and the store gets them all as one plural call
(`check_sends`, `claim_ledgers`, `finish_sends`). A lone mail waits no longer than that turn.

Nothing is acked earlier: each handler still awaits its own answer, which is the one its own
call would have given. When a plural call fails, each call in it is tried alone, so one mail's
failure (a bad row, a store error) is that mail's alone.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from postroom_replier.store import ReplierStore
from postroom_shared.models import LedgerEntry, ProcessingLogEntry, SendRecord
from postroom_shared.store.ports.replies import (
    Claim,
    FinishedSend,
    SendCheck,
    SendQuery,
    SendWindow,
)

__all__ = ["Batcher", "GroupCommit"]

MAX_BATCH = 64  # above the prefetch of any sane setting; bounds one transaction


@dataclass
class Batcher[In, Out]:
    """Calls made until the event loop's next turn, run as one `run_many` (in order)."""

    run_many: Callable[[list[In]], Awaitable[list[Out]]]
    max_size: int = MAX_BATCH
    batches: int = 0  # how many plural calls ran, for tests and curiosity
    _waiting: list[tuple[In, asyncio.Future[Out]]] = field(default_factory=list)
    _running: set[asyncio.Task[None]] = field(default_factory=set)

    async def __call__(self, item: In) -> Out:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Out] = loop.create_future()
        self._waiting.append((item, future))
        if len(self._waiting) >= self.max_size:
            self._flush()
        elif len(self._waiting) == 1:
            loop.call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        batch, self._waiting = self._waiting, []
        if batch:
            self.batches += 1
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)  # the loop keeps only a weak reference
            task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[tuple[In, asyncio.Future[Out]]]) -> None:
        try:
            results = await self.run_many([item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            for item, future in batch:  # alone: one call's failure is its own
                try:
                    [result] = await self.run_many([item])
                except Exception as alone:
                    _settle(future, alone)
                else:
                    _settle(future, result)
            return
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result)


def _settle[Out](future: asyncio.Future[Out], outcome: Out | Exception) -> None:
    if future.done():  # its handler was cancelled meanwhile
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


@dataclass(frozen=True)
class _Claim:
    entry: LedgerEntry
    stale_before: datetime


class GroupCommit:
    """The ledger calls `Delivery` makes, each batched across concurrent handlers."""

    def __init__(self, store: ReplierStore) -> None:
        self.store = store
        self.checks = Batcher[SendQuery, SendCheck](store.check_sends)
        self.claims = Batcher[_Claim, Claim](self._claim_many)
        self.finishes = Batcher[FinishedSend, None](self._finish_many)

    async def check_send(
        self, item_id: str, reason: str, recipient: str, window: SendWindow | None
    ) -> SendCheck:
        return await self.checks(SendQuery(item_id, reason, recipient, window))

    async def claim_ledger(self, entry: LedgerEntry, *, stale_before: datetime) -> Claim:
        return await self.claims(_Claim(entry, stale_before))

    async def finish_send(
        self, entry: LedgerEntry, record: SendRecord, log: ProcessingLogEntry | None
    ) -> None:
        await self.finishes(FinishedSend(entry, record, log))

    async def _claim_many(self, claims: Sequence[_Claim]) -> list[Claim]:
        # one staleness bound for the batch: the earliest, so no claim is taken over sooner
        # than its own caller would have
        stale_before = min(claim.stale_before for claim in claims)
        return await self.store.claim_ledgers(
            [claim.entry for claim in claims], stale_before=stale_before
        )

    async def _finish_many(self, sends: Sequence[FinishedSend]) -> list[None]:
        await self.store.finish_sends(sends)
        return [None] * len(sends)
