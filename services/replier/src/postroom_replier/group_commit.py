"""Group commit: the ledger calls of concurrent handlers share one store round trip.

The replier handles up to its prefetch of events at once (docs/architecture.md, consuming), and
each automatic mail makes the same three ledger calls (check, claim, finish). Every call was a
round trip of its own (on SQLite a hop to the store's thread and, for the claim and the finish,
a transaction each). Here the calls are coalesced (`postroom_shared.coalescing`, as the
converter's writes are): every handler that reaches the same step within the event loop's next
turn, or while the previous plural call runs, joins one plural call (`check_sends`,
`claim_ledgers`, `finish_sends`). A lone mail waits for no timer.

Nothing is acked earlier: each handler still awaits its own answer, which is the one its own
call would have given. When a plural call fails, each call in it is tried alone, so one mail's
failure (a bad row, a store error) is that mail's alone.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from postroom_replier.store import ReplierStore
from postroom_shared.coalescing import Coalescer, each_alone_on_failure
from postroom_shared.models import LedgerEntry, ProcessingLogEntry, SendRecord
from postroom_shared.store.ports.replies import (
    Claim,
    FinishedSend,
    SendCheck,
    SendQuery,
    SendWindow,
)

__all__ = ["GroupCommit"]


@dataclass(frozen=True)
class _Claim:
    entry: LedgerEntry
    stale_before: datetime


class GroupCommit:
    """The ledger calls `Delivery` makes, each batched across concurrent handlers."""

    def __init__(self, store: ReplierStore) -> None:
        self.store = store
        self.checks = Coalescer[SendQuery, SendCheck](each_alone_on_failure(store.check_sends))
        self.claims = Coalescer[_Claim, Claim](each_alone_on_failure(self._claim_many))
        self.finishes = Coalescer[FinishedSend, None](each_alone_on_failure(self._finish_many))

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
