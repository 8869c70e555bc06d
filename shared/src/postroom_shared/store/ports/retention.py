"""The retention port: the purges `postroom_shared.retention` runs periodically.

Apart from the roles whose data they remove because only the cleanup (one replica of the API,
or `postroom cleanup`) calls them. Each removes what is older than `before` in small batches,
returns how many it removed, and can run again (or concurrently) at any time.
"""

from datetime import datetime
from typing import Protocol

__all__ = ["Retention"]


class Retention(Protocol):
    async def purge_log(self, before: datetime) -> int:
        """Processing log entries recorded before `before`."""
        ...

    async def purge_sends(self, before: datetime) -> int:
        """Automatic-mail history (rate limits) older than `before`."""
        ...

    async def purge_ledger(self, before: datetime) -> int:
        """Reply ledger entries claimed before `before`."""
        ...

    async def purge_quarantine(self, before: datetime) -> int:
        """Quarantine entries first seen before `before`."""
        ...

    async def purge_heartbeats(self, before: datetime) -> int:
        """Heartbeats of service instances last seen before `before` (stopped processes)."""
        ...

    async def purge_seen_keys(
        self, before: datetime, *, account_ids: list[str], namespace_prefix: str
    ) -> int:
        """Seen keys of `account_ids` in namespaces starting with `namespace_prefix`, first
        recorded before `before` (keys recorded before they carried a time count from the
        first purge)."""
        ...

    async def purge_sessions(self, before: datetime) -> int:
        """Console sign-in sessions whose absolute end (`expires_at`) is before `before`."""
        ...

    async def purge_blobs(self, before: datetime) -> int:
        """Blobs last stored before `before` that no thread message (raw mail, attachment),
        quarantine entry or processing log entry references; also leftovers of writers that
        died. A blob stored again (or referenced anew through `put_blob`) is kept."""
        ...
