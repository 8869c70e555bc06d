"""Small blobs inside the database, on both stores: raw mail and attachments up to
`StoreOptions.small_blob_max_bytes` are a row of `small_blobs` (SQLite) or a document of it
(MongoDB) instead of a file or a GridFS file, under the same `sha256:` reference; blobs stored
outside before (or above the limit) are read and collected as before; a damaged row is
reported, never returned, and repaired by the next put.
"""

import hashlib
import random
import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from postroom_shared.models import Item, ItemType, ThreadMessage, utcnow
from postroom_shared.settings import CommonSettings
from postroom_shared.store import BlobCorrupted, Store, StoreOptions
from postroom_shared.store.ports import AppendedMessage, MailWrite, NewItem
from tests.conftest import opened_store
from tests.contract.blob_hammer import hammer, mongo_db
from tests.contract.test_store_items import _item, _msg

LIMIT = StoreOptions().small_blob_max_bytes
RAW = random.Random(20).randbytes(12_000)  # a typical raw mail
LARGE = random.Random(21).randbytes(LIMIT + 1)


def _db_path(store_url: str) -> Path:
    return Path(store_url.removeprefix("sqlite:///"))


async def _where(store_url: str, ref: str) -> set[str]:
    """Where the store keeps `ref`: "database" (row or document), "outside" (file, GridFS)."""
    found = set()
    if store_url.startswith("sqlite"):
        with closing(sqlite3.connect(_db_path(store_url))) as conn:
            if conn.execute("SELECT 1 FROM small_blobs WHERE ref = ?", (ref,)).fetchone():
                found.add("database")
        if (_db_path(store_url).parent / "blobs" / ref[7:9] / ref[7:]).exists():
            found.add("outside")
        return found
    async with mongo_db(store_url) as db:
        if await db["small_blobs"].find_one({"_id": ref}):
            found.add("database")
        if await db["blobs.files"].find_one({"filename": ref}):
            found.add("outside")
    return found


async def test_small_blobs_are_kept_inside_the_database(store: Store, store_url: str) -> None:
    small, large = await store.put_blob(RAW), await store.put_blob(LARGE)
    assert small == "sha256:" + hashlib.sha256(RAW).hexdigest()
    assert await store.put_blob(RAW) == small  # stored again: the same blob, no error
    assert await _where(store_url, small) == {"database"}
    assert await _where(store_url, large) == {"outside"}
    assert await store.get_blob(small) == RAW
    assert await store.get_blob(large) == LARGE
    at_limit = await store.put_blob(LARGE[:LIMIT])
    assert await _where(store_url, at_limit) == {"database"}
    with pytest.raises(KeyError):
        await store.get_blob("sha256:" + "1" * 64)
    with pytest.raises(KeyError):
        await store.get_blob("not a reference")


async def test_blobs_stored_outside_before_are_read_and_collected(store_url: str) -> None:
    """A store from before (or with the limit at 0) kept every blob outside: after the
    upgrade those blobs still read, and the collector still takes them when unreferenced."""
    async with opened_store(store_url, StoreOptions(small_blob_max_bytes=0)) as old:
        kept, orphan = await old.put_blob(b"old raw mail"), await old.put_blob(b"old orphan")
    assert await _where(store_url, kept) == {"outside"}
    async with opened_store(store_url) as store:
        assert await store.get_blob(kept) == b"old raw mail"
        new_orphan = await store.put_blob(b"new orphan")
        item = Item(
            id="it1", item_type=ItemType.INCIDENT, number=1, project="P", account_id="a1",
            title="t",
        )  # fmt: skip
        message = ThreadMessage(
            key="k1", item_id="it1", account_id="a1", direction="in", blob_ref=kept
        )
        await store.insert_item(item, message, [])
        assert await store.purge_blobs(utcnow() + timedelta(seconds=1)) == 2
        assert await store.get_blob(kept) == b"old raw mail"
        for gone in (orphan, new_orphan):
            with pytest.raises(KeyError):
                await store.get_blob(gone)
            assert await _where(store_url, gone) == set()


async def test_a_batch_stores_its_raw_mails_with_their_writes(store: Store, store_url: str) -> None:
    """`write_mails` with the raw mail of each write (the converter's inline mail): stored
    with the write, where `put_blob` keeps it, under the reference the message names; a write
    applied before, or one that fails, leaves no dangling reference either way."""
    small, large = b"raw mail of k1", LARGE
    refs = ["sha256:" + hashlib.sha256(data).hexdigest() for data in (small, large)]
    item = _item("a", 1)
    batch: list[MailWrite] = [
        NewItem(item, _msg_with("k1", item.id, refs[0]), [], blobs=(small,)),
        AppendedMessage(item.id, _msg_with("k2", item.id, refs[1]), [], blobs=(large,)),
        AppendedMessage("it_gone", _msg_with("k3", "it_gone", refs[0]), [], blobs=(small,)),
    ]
    results = await store.write_mails(batch)
    assert results[:2] == [True, True] and isinstance(results[2], KeyError)
    assert await store.get_blob(refs[0]) == small and await store.get_blob(refs[1]) == large
    assert await _where(store_url, refs[0]) == {"database"}
    assert await _where(store_url, refs[1]) == {"outside"}
    assert [m.blob_ref for m in await store.list_messages(item.id)] == refs
    assert await store.write_mails(batch[:2]) == [False, False]
    # referenced: the collector keeps both
    await store.purge_blobs(utcnow() + timedelta(seconds=1))
    assert await store.get_blob(refs[0]) == small and await store.get_blob(refs[1]) == large


def _msg_with(key: str, item_id: str, blob_ref: str) -> ThreadMessage:
    return _msg(key, item_id).model_copy(update={"blob_ref": blob_ref})


async def test_a_damaged_row_is_reported_never_returned_and_repaired(
    store: Store, store_url: str
) -> None:
    ref = await store.put_blob(RAW)
    damaged = bytearray(RAW)
    damaged[5_000] ^= 0x01  # one bit, same size
    if store_url.startswith("sqlite"):
        with closing(sqlite3.connect(_db_path(store_url))) as conn, conn:
            conn.execute("UPDATE small_blobs SET data = ? WHERE ref = ?", (bytes(damaged), ref))
    else:
        async with mongo_db(store_url) as db:
            await db["small_blobs"].update_one({"_id": ref}, {"$set": {"data": bytes(damaged)}})
    with pytest.raises(BlobCorrupted, match="damaged"):
        await store.get_blob(ref)
    assert await store.put_blob(RAW) == ref  # the mail stored again (a retry) repairs it
    assert await store.get_blob(ref) == RAW


async def test_concurrent_small_puts(store: Store) -> None:
    result = await hammer(store, RAW, 50)
    assert result.errors == [], result.errors[:5]
    assert (result.puts, result.refs) == (50, {"sha256:" + hashlib.sha256(RAW).hexdigest()})


def test_the_limit_is_a_setting() -> None:
    base = {"store_url": "sqlite:///x", "secret_key": SecretStr("k" * 32)}
    default = CommonSettings(**base)  # type: ignore[arg-type]
    assert default.store_options().small_blob_max_bytes == 262_144
    settings = CommonSettings(**base, store_small_blob_max_bytes=0)  # type: ignore[arg-type]
    assert settings.store_options().small_blob_max_bytes == 0
