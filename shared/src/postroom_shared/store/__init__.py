"""Storage behind narrow ports, with an SQLite and a MongoDB adapter (docs/architecture.md).

`ports/` holds one protocol per role; `sqlite/` and `mongo/` implement each of them over one
connection. `open_store(url)` picks the adapter from the URL scheme; nothing connects before it
is awaited.
"""

from postroom_shared.store.factory import open_store
from postroom_shared.store.ports import (
    BlobCorrupted,
    BlobWriter,
    ItemChanges,
    ItemQuery,
    OutboxEvent,
    Store,
    StoredBlob,
    StoreOptions,
    StoreUnavailableError,
)

__all__ = [
    "BlobCorrupted",
    "BlobWriter",
    "ItemChanges",
    "ItemQuery",
    "OutboxEvent",
    "Store",
    "StoreOptions",
    "StoreUnavailableError",
    "StoredBlob",
    "open_store",
]
