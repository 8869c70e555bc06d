"""The embedded store: one SQLite database in WAL mode shared by the services of one machine.

`SqliteStore` is every role class over the one connection of `SqliteBase`: each role module
holds the queries of its port, and the composition only lines them up, so `store.get_item`
works as on any other store and a role can be read (and changed) on its own.
"""

from postroom_shared.store.sqlite.blobs import SqliteBlobs
from postroom_shared.store.sqlite.config import SqliteConfig
from postroom_shared.store.sqlite.fetch import SqliteFetch
from postroom_shared.store.sqlite.items_batch import SqliteItemBatches
from postroom_shared.store.sqlite.ops import SqliteOps
from postroom_shared.store.sqlite.replies import SqliteReplies
from postroom_shared.store.sqlite.retention import SqliteRetention
from postroom_shared.store.sqlite.sessions import SqliteSessions

__all__ = ["SqliteStore"]


class SqliteStore(
    SqliteConfig,
    SqliteItemBatches,
    SqliteFetch,
    SqliteReplies,
    SqliteOps,
    SqliteBlobs,
    SqliteRetention,
    SqliteSessions,
):
    """`Store` on one SQLite file plus a blob directory beside it."""
