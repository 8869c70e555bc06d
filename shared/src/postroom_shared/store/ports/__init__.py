"""The storage ports, one module per role: every method is one business operation, not a
query builder.

Both adapters (`store/sqlite/`, `store/mongo/`) implement every port and pass the same
contract tests (`tests/contract/test_store_*.py`). Writes that must not happen twice take the
idempotency key with them (a mail key, an event id, a ledger key), so a redelivered message is
harmless. A service depends on the few ports it uses (its own `store.py`); `Store`, all of
them, is for the composition root, the CLI and the tests.
"""

from typing import Protocol

from postroom_shared.store.ports.blobs import BlobCorrupted, BlobStore, BlobWriter, StoredBlob
from postroom_shared.store.ports.config import (
    ConfigReader,
    ConfigStore,
    Contacts,
    RefreshTokens,
    TokenOwners,
)
from postroom_shared.store.ports.fetch import (
    AccountStates,
    Checkpoints,
    FetchStore,
    Leases,
    SeenKeys,
)
from postroom_shared.store.ports.items import (
    ChangeResult,
    ItemChanger,
    ItemReader,
    ItemStore,
    ItemWriter,
    Outbox,
    ThreadWriter,
)
from postroom_shared.store.ports.items_batch import (
    AppendedMessage,
    ContactClash,
    ItemBatches,
    MailWrite,
    NewItem,
    WriteResult,
)
from postroom_shared.store.ports.lifecycle import Lifecycle, Pingable
from postroom_shared.store.ports.ops import (
    Heartbeats,
    OpsReader,
    OpsStore,
    ProcessingLog,
    Quarantine,
    QuarantineReader,
)
from postroom_shared.store.ports.replies import (
    ReplyLedger,
    ReplyStore,
    SendHistory,
    SendHistoryReader,
)
from postroom_shared.store.ports.retention import Retention
from postroom_shared.store.ports.sessions import ConsoleSession, ConsoleSessions
from postroom_shared.store.ports.values import (
    ActivityBucket,
    ActivityCount,
    ActivityKind,
    ItemChanges,
    ItemQuery,
    OutboxEvent,
    StoreOptions,
    StoreUnavailableError,
)

__all__ = [
    "AccountStates",
    "ActivityBucket",
    "ActivityCount",
    "ActivityKind",
    "AppendedMessage",
    "BlobCorrupted",
    "BlobStore",
    "BlobWriter",
    "ChangeResult",
    "Checkpoints",
    "ConfigReader",
    "ConfigStore",
    "ConsoleSession",
    "ConsoleSessions",
    "ContactClash",
    "Contacts",
    "FetchStore",
    "Heartbeats",
    "ItemBatches",
    "ItemChanger",
    "ItemChanges",
    "ItemQuery",
    "ItemReader",
    "ItemStore",
    "ItemWriter",
    "Leases",
    "Lifecycle",
    "MailWrite",
    "NewItem",
    "OpsReader",
    "OpsStore",
    "Outbox",
    "OutboxEvent",
    "Pingable",
    "ProcessingLog",
    "Quarantine",
    "QuarantineReader",
    "RefreshTokens",
    "ReplyLedger",
    "ReplyStore",
    "Retention",
    "SeenKeys",
    "SendHistory",
    "SendHistoryReader",
    "Store",
    "StoreOptions",
    "StoreUnavailableError",
    "StoredBlob",
    "ThreadWriter",
    "TokenOwners",
    "WriteResult",
]


class Store(
    Lifecycle,
    ConfigStore,
    ItemStore,
    ItemBatches,
    FetchStore,
    ReplyStore,
    OpsStore,
    BlobStore,
    Retention,
    ConsoleSessions,
    Protocol,
):
    """Everything the services persist: every role port on one connection."""
