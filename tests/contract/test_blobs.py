"""Blob stores under concurrency and damage, on SQLite (files) and MongoDB (GridFS).

Many writers of the same bytes at once (asyncio tasks, threads, two processes), interleaved
with readers: no writer fails, every reader gets the exact bytes or (before the first write
finished) nothing. A damaged blob is reported, never returned. Large blobs are written
through a streaming writer that names them only at commit.
"""

import asyncio
import hashlib
import json
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from subprocess import PIPE

import pytest
from bson import Binary

from postroom_shared.store import BlobCorrupted, Store
from postroom_shared.store.mongo.grid import PENDING_PREFIX
from postroom_shared.store.ports import BlobStore
from postroom_shared.store.sqlite.files import TEMP_PREFIX
from tests.contract.blob_hammer import Hammered, hammer, hammer_url, mongo_db, round_data
from tests.stack_env import REPO

DATA = random.Random(10).randbytes(400_000)  # two GridFS chunks and a bit
PUTS = 50


def _clean(result: Hammered, *, puts: int, refs: set[str]) -> None:
    assert result.errors == [], result.errors[:5]
    assert result.puts == puts
    assert result.refs == refs
    assert result.reads > 0


def _ref(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _blob_dir(store_url: str) -> Path:
    return Path(store_url.removeprefix("sqlite:///")).parent / "blobs"


async def _leftovers(store_url: str) -> list[str]:
    """Unfinished writes still lying around (temporary files, pending GridFS files)."""
    if store_url.startswith("sqlite"):
        return sorted(p.name for p in _blob_dir(store_url).glob(f"{TEMP_PREFIX}*"))
    async with mongo_db(store_url) as db:
        found = db["blobs.files"].find({"filename": {"$regex": f"^{PENDING_PREFIX}"}})
        return [doc["filename"] async for doc in found]


async def test_blobs(store: BlobStore) -> None:
    data = b"x" * 300_000
    ref = await store.put_blob(data)
    assert ref == await store.put_blob(data)
    assert await store.get_blob(ref) == data
    with pytest.raises(KeyError):
        await store.get_blob("sha256:" + "0" * 64)


async def test_concurrent_puts_from_asyncio_tasks(store: BlobStore) -> None:
    result = await hammer(store, DATA, PUTS)
    print(f"tasks: {result.puts} puts, {result.reads} verified reads, {result.not_yet} too early")
    _clean(result, puts=PUTS, refs={_ref(DATA)})


async def test_concurrent_puts_from_threads(store_url: str) -> None:
    """Ten threads, each with its own event loop and store, five puts each, at once."""

    def thread() -> Hammered:
        return asyncio.run(hammer_url(store_url, DATA, PUTS // 10, readers=2))

    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(10) as pool:
        results = await asyncio.gather(*(loop.run_in_executor(pool, thread) for _ in range(10)))
    for result in results:
        _clean(result, puts=PUTS // 10, refs={_ref(round_data(DATA, 0))})
    print(f"threads: {sum(r.puts for r in results)} puts, {sum(r.reads for r in results)} reads")


# Small blobs are rows or documents of the database (upserts racing), others files or GridFS.
@pytest.mark.parametrize("data", [DATA, DATA[:20_000]], ids=["outside", "in the database"])
async def test_concurrent_puts_from_two_processes(
    store_url: str, tmp_path: Path, data: bytes
) -> None:
    """Two processes and this one put the same new bytes at the same moments, round after
    round, while reading them."""
    rounds = 3
    data_file = tmp_path / "data"
    data_file.write_bytes(data)
    start_at = time.time() + 4.0  # both processes are up by then
    args = [str(PUTS // 2), str(rounds), str(start_at)]
    command = ["-m", "tests.contract.blob_hammer", store_url, str(data_file), *args]
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, *command, cwd=REPO, stdout=PIPE, stderr=PIPE
        )
        for _ in range(2)
    ]
    ours = await hammer_url(store_url, data, PUTS // 2, rounds=rounds, start_at=start_at)
    refs = {_ref(round_data(data, index)) for index in range(rounds)}
    for proc in procs:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=240)
        assert proc.returncode == 0, err.decode()[-2000:]
        theirs = json.loads(out)
        assert theirs["errors"] == [], theirs["errors"][:5]
        assert theirs["puts"] == rounds * PUTS // 2
        assert set(theirs["refs"]) == refs
    _clean(ours, puts=rounds * PUTS // 2, refs=refs)
    assert await _leftovers(store_url) == []


async def test_streamed_blob_is_visible_only_once_committed(store: Store, store_url: str) -> None:
    pieces = [DATA[i : i + 100_000] for i in range(0, len(DATA), 100_000)]
    writer = await store.open_blob_writer()
    for piece in pieces[:-1]:
        await writer.write(piece)
    with pytest.raises(KeyError):
        await store.get_blob(_ref(DATA))
    await writer.write(pieces[-1])
    blob = await writer.commit()
    assert (blob.ref, blob.size, blob.sha256) == (_ref(DATA), len(DATA), _ref(DATA)[7:])
    assert await store.get_blob(blob.ref) == DATA
    assert await store.put_blob(DATA) == blob.ref  # the same blob as a whole put

    # a second stream of the same bytes: the same ref, the blob intact
    again = await store.open_blob_writer()
    await again.write(DATA)
    assert (await again.commit()).ref == blob.ref
    assert await store.get_blob(blob.ref) == DATA

    # an aborted stream leaves nothing behind
    aborted = await store.open_blob_writer()
    await aborted.write(b"half a mail")
    await aborted.abort()
    with pytest.raises(KeyError):
        await store.get_blob(_ref(b"half a mail"))
    assert await _leftovers(store_url) == []


async def test_a_damaged_blob_is_reported_never_returned(store: Store, store_url: str) -> None:
    data = random.Random(11).randbytes(600_000)
    ref = await store.put_blob(data)
    if store_url.startswith("sqlite"):
        path = _blob_dir(store_url) / ref[7:9] / ref[7:]
        damaged = bytearray(path.read_bytes())
        damaged[123_456] ^= 0x01  # one bit, same size
        path.write_bytes(bytes(damaged))
    else:
        async with mongo_db(store_url) as db:
            files = await db["blobs.files"].find_one({"filename": ref})
            assert files is not None
            chunk = await db["blobs.chunks"].find_one({"files_id": files["_id"], "n": 1})
            assert chunk is not None
            flipped = bytes([chunk["data"][0] ^ 0x01]) + bytes(chunk["data"][1:])
            await db["blobs.chunks"].update_one(
                {"_id": chunk["_id"]}, {"$set": {"data": Binary(flipped)}}
            )
    with pytest.raises(BlobCorrupted, match="damaged"):
        await store.get_blob(ref)


async def test_a_truncated_file_is_reported_and_repaired_by_the_next_put(
    sqlite_store: Store, sqlite_url: str
) -> None:
    data = random.Random(12).randbytes(300_000)
    ref = await sqlite_store.put_blob(data)
    path = _blob_dir(sqlite_url) / ref[7:9] / ref[7:]
    path.write_bytes(data[:1000])  # e.g. a disk that filled up under another tool
    with pytest.raises(BlobCorrupted):
        await sqlite_store.get_blob(ref)
    assert await sqlite_store.put_blob(data) == ref
    assert await sqlite_store.get_blob(ref) == data
