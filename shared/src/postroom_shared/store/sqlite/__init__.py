"""The SQLite adapter, split by role: `base.py` owns the connection and its thread, `schema.py`
the tables, and one module per port holds its queries (`config.py`, `items.py`, `fetch.py`,
`replies.py`, `ops.py`, `blobs.py` with `files.py`, `retention.py`); `store.py` composes them.
"""

from postroom_shared.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
