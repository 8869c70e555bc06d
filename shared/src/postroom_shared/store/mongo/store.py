"""The production store: MongoDB through PyMongo's async API, GridFS for blobs.

`MongoStore` is every role class over the one client of `MongoBase`: each role module holds
the queries of its port, and the composition only lines them up (so `store.get_item` works as
on any other store) and bounds every public call in time (`bounds.bounded_calls`).
"""

from postroom_shared.store.mongo.blobs import MongoBlobs
from postroom_shared.store.mongo.bounds import bounded_calls
from postroom_shared.store.mongo.config import MongoConfig
from postroom_shared.store.mongo.fetch import MongoFetch
from postroom_shared.store.mongo.items_batch import MongoItemBatches
from postroom_shared.store.mongo.ops import MongoOps
from postroom_shared.store.mongo.replies import MongoReplies
from postroom_shared.store.mongo.retention import MongoRetention
from postroom_shared.store.mongo.sessions import MongoSessions

__all__ = ["MongoStore"]


@bounded_calls
class MongoStore(
    MongoConfig,
    MongoItemBatches,
    MongoFetch,
    MongoReplies,
    MongoOps,
    MongoBlobs,
    MongoRetention,
    MongoSessions,
):
    """`Store` on a MongoDB database (name from the URL path, default `postroom`)."""
