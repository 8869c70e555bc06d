"""The operations port: what an operator looks at when mail did not go as expected.

The processing log (what happened to each mail and why), the quarantine (mail that could not
be processed, kept for a reprocess) and the services' heartbeats (readiness). Every service
writes its part; the API and the CLI read them (`OpsReader`), and the console's dashboard
counts the activity of the last hours from the log and the items (`OpsReader.activity`).
"""

from datetime import datetime
from typing import Protocol

from postroom_shared.models import ProcessingLogEntry, QuarantineEntry, ServiceHeartbeat
from postroom_shared.store.ports.values import ActivityBucket, ActivityCount

__all__ = [
    "Heartbeats",
    "OpsReader",
    "OpsStore",
    "ProcessingLog",
    "Quarantine",
    "QuarantineReader",
]


class ProcessingLog(Protocol):
    async def put_log(self, entry: ProcessingLogEntry) -> None:
        """Record a processing step; the same id twice keeps the first record."""
        ...


class QuarantineReader(Protocol):
    async def get_quarantine(self, entry_id: str) -> QuarantineEntry | None: ...
    async def list_quarantine(self, *, limit: int = 100) -> list[QuarantineEntry]: ...
    async def count_quarantine(self) -> int: ...


class Quarantine(QuarantineReader, Protocol):
    async def put_quarantine(self, entry: QuarantineEntry) -> None:
        """Insert, or count one more attempt for an entry with the same id."""
        ...

    async def delete_quarantine(self, entry_id: str) -> bool: ...


class Heartbeats(Protocol):
    async def heartbeat(self, beat: ServiceHeartbeat) -> None: ...
    async def heartbeats(self, *, since: datetime) -> list[ServiceHeartbeat]: ...


class OpsReader(QuarantineReader, Protocol):
    async def list_log(
        self,
        *,
        account_id: str | None = None,
        mail_key: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[ProcessingLogEntry]:
        """Newest first."""
        ...

    async def activity(
        self, *, since: datetime, until: datetime, bucket: ActivityBucket = "hour"
    ) -> list[ActivityCount]:
        """What happened in [since, until), counted per UTC hour (or day) and kind: mails
        received (distinct mails the converter logged), items created (the items' created_at),
        replies sent and suppressed (the replier's log actions, `values.reply_kind`). Buckets
        with nothing in them are left out; the order is by bucket, then kind."""
        ...


class OpsStore(ProcessingLog, Quarantine, Heartbeats, OpsReader, Protocol):
    """The processing log, the quarantine and the heartbeats."""
