"""Put and read one blob many times at once against a store: the worker of the blob
concurrency tests, also run as a separate process so that processes race on one store
(`python -m tests.contract.blob_hammer URL DATA_FILE COUNT ROUNDS START_AT` prints a JSON
summary).

Every read must return exactly the bytes that were put; a read before any put finished may
find nothing (KeyError), never a part or a mixture.
"""

import asyncio
import hashlib
import json
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.uri_parser import parse_uri

from postroom_shared.store import open_store
from postroom_shared.store.ports import BlobStore

__all__ = ["Hammered", "hammer", "hammer_url", "mongo_db", "round_data"]


@dataclass
class Hammered:
    puts: int = 0
    reads: int = 0
    not_yet: int = 0  # reads before the blob existed
    refs: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


async def hammer(store: BlobStore, data: bytes, count: int, readers: int = 10) -> Hammered:
    """`count` concurrent put_blob of `data` while `readers` readers read it in a loop until
    every put returned, and once more after that (which must find it)."""
    result = Hammered()
    ref = "sha256:" + hashlib.sha256(data).hexdigest()
    written = asyncio.Event()

    async def put() -> None:
        try:
            result.refs.add(await store.put_blob(data))
            result.puts += 1
        except Exception as exc:
            result.errors.append(f"put: {exc!r}")

    async def puts() -> None:
        await asyncio.gather(*(put() for _ in range(count)))
        written.set()

    async def read(last: bool) -> None:
        try:
            got = await store.get_blob(ref)
        except KeyError:
            if last:
                result.errors.append("read after every put returned: no blob")
            result.not_yet += 1
            return
        except Exception as exc:
            result.errors.append(f"read: {exc!r}")
            return
        result.reads += 1
        if got != data:
            result.errors.append(f"read {len(got)} bytes that are not the blob")

    async def reader() -> None:
        while not written.is_set():
            await read(last=False)
            await asyncio.sleep(0)
        await read(last=True)

    await asyncio.gather(puts(), *(reader() for _ in range(readers)))
    return result


def round_data(data: bytes, index: int) -> bytes:
    """Different bytes for every round, the same in every process."""
    return index.to_bytes(4, "big") + data


async def hammer_url(
    url: str, data: bytes, count: int, *, rounds: int = 1, start_at: float = 0.0, readers: int = 10
) -> Hammered:
    """`rounds` hammers on a store of our own, each on new bytes (a blob that exists already
    is not written again, so only new bytes race); the first starts at `start_at` (epoch s),
    so that processes started one after the other still collide."""
    store = await open_store(url)
    total = Hammered()
    try:
        await asyncio.sleep(max(0.0, start_at - time.time()))
        for index in range(rounds):
            one = await hammer(store, round_data(data, index), count, readers)
            total.puts += one.puts
            total.reads += one.reads
            total.not_yet += one.not_yet
            total.refs |= one.refs
            total.errors += one.errors
    finally:
        await store.close()
    return total


@asynccontextmanager
async def mongo_db(store_url: str) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """The MongoDB database of a store URL, for looking behind the store's back."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(store_url)
    try:
        yield client[parse_uri(store_url)["database"] or "postroom"]
    finally:
        await client.close()


def main() -> None:
    url, data_file, count, rounds, start_at = sys.argv[1:6]
    data = Path(data_file).read_bytes()
    result = asyncio.run(
        hammer_url(url, data, int(count), rounds=int(rounds), start_at=float(start_at))
    )
    print(json.dumps(asdict(result) | {"refs": sorted(result.refs)}), flush=True)


if __name__ == "__main__":
    main()
