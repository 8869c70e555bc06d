"""The MongoDB adapter, split by role: `base.py` owns the client and its database, `bounds.py`
the time bound of every call, `indexes.py` the schema, and one module per port holds its
queries (`config.py`, `items.py`, `fetch.py`, `replies.py`, `ops.py`, `blobs.py` with
`grid.py`, `retention.py`); `store.py` composes them.
"""

from postroom_shared.store.mongo.store import MongoStore

__all__ = ["MongoStore"]
