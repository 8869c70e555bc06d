"""What every MongoDB role shares: the one `AsyncMongoClient`, its database, and the schema
(indexes) it makes sure of at connect.

Designed for single-document atomicity (docs/architecture.md, "Storage"), because no
multi-document transaction is needed and the MongoDB-compatible test server mishandles
conflicting ones. Every call is bounded in time (`StoreOptions`, `bounds.py`) and a server that
does not answer becomes a `StoreUnavailableError`.
"""

from typing import Any

import pymongo
from pydantic import BaseModel
from pymongo import ASCENDING, AsyncMongoClient
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.uri_parser import parse_uri

from postroom_shared.store.mongo.bounds import client_bounds
from postroom_shared.store.mongo.indexes import create_indexes
from postroom_shared.store.ports import StoreOptions

__all__ = ["SCHEMA_TIMEOUT_S", "Doc", "MongoBase", "to_doc"]

Doc = dict[str, Any]
SCHEMA_TIMEOUT_S = 600.0


def to_doc(model: Any, **extra: Any) -> Doc:
    doc: Doc = model.model_dump()
    doc.update(extra)
    return doc


class MongoBase:
    """A MongoDB database (name from the URL path, default `postroom`); the role classes
    build on this."""

    def __init__(self, url: str, options: StoreOptions | None = None) -> None:
        self._url = url
        self._options = options or StoreOptions()
        self._dbname = parse_uri(url).get("database") or "postroom"
        self._client: AsyncMongoClient[Doc] | None = None

    @property
    def blob_timeout_s(self) -> float:
        return self._options.blob_timeout_s

    @property
    def _db(self) -> AsyncDatabase[Doc]:
        if self._client is None:
            raise RuntimeError("store is not connected")
        return self._client[self._dbname]

    async def _find[M: BaseModel](self, model: type[M], collection: str, query: Doc) -> M | None:
        """The first document of `collection` matching `query`, as `model`, or None."""
        doc = await self._db[collection].find_one(query)
        return model.model_validate(doc) if doc else None

    @staticmethod
    async def _models[M: BaseModel](model: type[M], cursor: AsyncCursor[Doc]) -> list[M]:
        return [model.model_validate(doc) async for doc in cursor]

    async def _all[M: BaseModel](self, model: type[M], collection: str) -> list[M]:
        """Every document of a small collection, in `_id` order."""
        return await self._models(model, self._db[collection].find({}).sort("_id", ASCENDING))

    async def _replace(self, collection: str, key: str, model: BaseModel) -> None:
        """Insert or replace the document `key` of `collection` with `model`."""
        await self._db[collection].replace_one({"_id": key}, to_doc(model, _id=key), upsert=True)

    # lifecycle -----------------------------------------------------------------------------
    async def connect(self) -> None:
        self._client = AsyncMongoClient(
            self._url, tz_aware=True, **client_bounds(self._url, self._options)
        )
        try:
            # No server: fail within the ordinary bound. Then building an index over a large
            # existing collection (the first start after an upgrade) may take minutes.
            await self.ping()
            with pymongo.timeout(max(SCHEMA_TIMEOUT_S, self._options.timeout_s)):
                await create_indexes(self._db)
        except BaseException:
            # Unreachable server or a cancelled start: do not leave the client's threads behind.
            await self.close()
            raise

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def ping(self) -> None:
        await self._db.command("ping")
