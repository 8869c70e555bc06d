"""The store as the API sees it: the role ports its routes use, not the whole store.

The API administers the configuration, reads items, threads, blobs, the processing log, the
quarantine, account states, heartbeats and the reply ledger (delivery of team replies), keeps
the console's sessions, and answers mailbox questions through the fetcher's probe. It also
runs the converter's reprocess and item write path in its own process (quarantine and item
write routes), so it needs the converter's ports; the cleanup and the metrics get the whole
store in `app.py`.
"""

from typing import Protocol

from postroom_converter.store import ConverterStore
from postroom_fetcher.store import ProbeStore
from postroom_shared.models import LedgerEntry
from postroom_shared.store.ports import (
    AccountStates,
    ConfigStore,
    ConsoleSessions,
    Heartbeats,
    OpsReader,
    Pingable,
    SendHistoryReader,
)

__all__ = ["ApiStore", "LedgerReader"]


class LedgerReader(Protocol):
    """The replier's ledger, read: what became of a team reply's mail to each recipient."""

    async def get_ledger(self, item_id: str, reason: str, recipient: str) -> LedgerEntry | None: ...


class ApiStore(
    ConfigStore,
    ConverterStore,
    OpsReader,
    AccountStates,
    ProbeStore,
    SendHistoryReader,
    Heartbeats,
    Pingable,
    LedgerReader,
    ConsoleSessions,
    Protocol,
):
    """Everything the API's routes, its key check and its mail door touch."""
