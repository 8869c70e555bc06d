"""The replies port: the replier's memory of what it sent, so it never sends twice or too much.

The ledger makes one reply per (item, reason, recipient) happen once across redeliveries and
replicas; the send history feeds the rate limits and RFC 3834's identical-reply rule. The API
reads the history for an account's breakers (`SendHistoryReader`).

The plural calls (`check_sends`, `claim_ledgers`, `finish_sends`) do for many mails what the
singular ones do for one, in one round trip (one thread hop and one transaction on SQLite): the
replier gathers the calls its concurrent handlers make at the same moment (group commit). Each
mail's answer is what its own call would have said had the calls run one after the other.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from postroom_shared.models import LedgerEntry, ProcessingLogEntry, SendRecord

__all__ = [
    "Claim",
    "FinishedSend",
    "ReplyLedger",
    "ReplyStore",
    "SendCheck",
    "SendHistory",
    "SendHistoryReader",
    "SendQuery",
    "SendWindow",
]


@dataclass(frozen=True)
class SendWindow:
    """The send history a new automatic mail is checked against: the recipient's own mail
    since `since`, and all automatic mail since `budget_since` counted up to `budget` (in all)
    and `domain_budget` (to the recipient's domain); a budget of 0 is not counted."""

    since: datetime
    budget_since: datetime
    budget: int = 0
    domain_budget: int = 0


@dataclass(frozen=True)
class SendCheck:
    """The ledger entry of one mail and, only when there is none yet (a new mail), the send
    history of `SendWindow`: what the replier decides on before claiming."""

    ledger: LedgerEntry | None
    history: list[SendRecord] = field(default_factory=list)
    sent: int = 0
    sent_to_domain: int = 0


@dataclass(frozen=True)
class SendQuery:
    """What `check_send` is asked for one mail."""

    item_id: str
    reason: str
    recipient: str
    window: SendWindow | None


@dataclass(frozen=True)
class FinishedSend:
    """What `finish_send` is given for one mail SMTP accepted."""

    entry: LedgerEntry
    record: SendRecord
    log: ProcessingLogEntry | None


Claim = Literal["claimed", "done", "busy"]


class ReplyLedger(Protocol):
    async def get_ledger(self, item_id: str, reason: str, recipient: str) -> LedgerEntry | None: ...
    async def claim_ledger(self, entry: LedgerEntry, *, stale_before: datetime) -> Claim:
        """Atomically claim the right to send `entry`: "claimed" when nobody has (or the last
        claim is older than `stale_before`: its sender died), "done" when it was sent (or failed
        for good) already, "busy" while another claim is fresh."""
        ...

    async def mark_done(self, entry: LedgerEntry, state: Literal["sent", "failed"]) -> None: ...

    async def check_send(
        self, item_id: str, reason: str, recipient: str, window: SendWindow | None
    ) -> SendCheck:
        """The ledger entry (item, reason, recipient) and, when there is none and `window` is
        given, the history and counts `window` asks for, in one round trip where the store can
        (one transaction on SQLite: one snapshot, one thread hop)."""
        ...

    async def check_sends(self, queries: Sequence[SendQuery]) -> list[SendCheck]:
        """`check_send` for each query, in order, in one round trip."""
        ...

    async def claim_ledgers(
        self, entries: Sequence[LedgerEntry], *, stale_before: datetime
    ) -> list[Claim]:
        """`claim_ledger` for each entry, in order, in one round trip (one transaction on
        SQLite); an entry twice in `entries` finds the first claim held ("busy")."""
        ...


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

    async def finish_send(
        self, entry: LedgerEntry, record: SendRecord, log: ProcessingLogEntry | None
    ) -> None:
        """SMTP accepted `entry`'s mail: mark it sent, add `record` to the send history and
        `log` to the processing log, together (one transaction on SQLite). Safe to repeat
        after a failure: the mark and the log entry are idempotent, and the record is kept
        once per ledger entry."""
        ...

    async def finish_sends(self, sends: Sequence[FinishedSend]) -> None:
        """`finish_send` for each, in one round trip (one transaction on SQLite: all or none)."""
        ...
