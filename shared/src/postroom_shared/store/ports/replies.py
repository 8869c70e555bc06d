"""The replies port: the replier's memory of what it sent, so it never sends twice or too much.

The ledger makes one reply per (item, reason, recipient) happen once across redeliveries and
replicas; the send history feeds the rate limits and RFC 3834's identical-reply rule. The API
reads the history for an account's breakers (`SendHistoryReader`).
"""

from datetime import datetime
from typing import Literal, Protocol

from postroom_shared.models import LedgerEntry, SendRecord

__all__ = ["ReplyLedger", "ReplyStore", "SendHistory", "SendHistoryReader"]


class ReplyLedger(Protocol):
    async def get_ledger(self, item_id: str, reason: str, recipient: str) -> LedgerEntry | None: ...
    async def claim_ledger(
        self, entry: LedgerEntry, *, stale_before: datetime
    ) -> Literal["claimed", "done", "busy"]:
        """Atomically claim the right to send `entry`: "claimed" when nobody has (or the last
        claim is older than `stale_before`: its sender died), "done" when it was sent (or failed
        for good) already, "busy" while another claim is fresh."""
        ...

    async def mark_done(self, entry: LedgerEntry, state: Literal["sent", "failed"]) -> None: ...


class SendHistoryReader(Protocol):
    async def sends_since(self, recipient: str, since: datetime) -> list[SendRecord]:
        """Automatic mail sent to `recipient` at or after `since`, oldest first."""
        ...

    async def count_sends_since(
        self, since: datetime, *, domain: str | None = None, limit: int
    ) -> int:
        """How many automatic mails went out at or after `since` (to addresses of `domain`
        only, when given), counted up to `limit` (the budget: counting stops there)."""
        ...

    async def account_sends_since(
        self, account_id: str, since: datetime, *, limit: int
    ) -> list[SendRecord]:
        """Automatic mail `account_id` sent at or after `since`, oldest first, at most
        `limit` records."""
        ...


class SendHistory(SendHistoryReader, Protocol):
    async def record_send(self, record: SendRecord) -> None: ...


class ReplyStore(ReplyLedger, SendHistory, Protocol):
    """The ledger and the send history: what the replier owns."""
