"""Databases written by an older version open cleanly and get the new guarantees.

- MongoDB: `applied` had a plain index, and the race it allowed may have left one mail key on
  two items; opening makes the index unique, keeps the key on the item its thread message names
  and leaves the duplicate item in place without it.
- SQLite: blob references of thread messages written before `message_blobs` existed are
  back-filled, so the blob collector keeps their raw mail and attachments; seen keys get a
  time column.
"""

import contextlib
import sqlite3
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.uri_parser import parse_uri

from postroom_shared.models import Item, ItemType, StoredAttachment, ThreadMessage, utcnow
from tests.conftest import opened_store


async def test_mongodb_applied_index_becomes_unique_and_doubly_applied_keys_are_released(
    mongo_db_url: str,
) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_db_url, tz_aware=True)
    db = client[parse_uri(mongo_db_url)["database"]]
    await db.items.create_index("applied")  # as the old version made it
    now = utcnow()
    for n, item_id in enumerate(("it_first", "it_second", "it_other")):
        item = Item(
            id=item_id, item_type=ItemType.INCIDENT, number=n + 1, project="P",
            account_id="a1", title=item_id, created_at=now, updated_at=now,
        )  # fmt: skip
        keys = ["k_other"] if item_id == "it_other" else ["k1"]
        await db.items.insert_one({**item.model_dump(), "_id": item_id, "applied": keys})
    # The race's loser wrote the thread message last: it names the second item.
    message = ThreadMessage(key="k1", item_id="it_second", account_id="a1", direction="in")
    await db.messages.insert_one({**message.model_dump(), "_id": "k1"})
    await client.close()

    async with opened_store(mongo_db_url) as store:
        applied = await store.item_for_mail("k1")
        assert applied is not None and applied.id == "it_second"
        assert await store.get_item("it_first") is not None  # left for a human
        item = Item(
            id="it_new", item_type=ItemType.INCIDENT, number=9, project="P", account_id="a1",
            title="again",
        )  # fmt: skip
        message = ThreadMessage(key="k1", item_id="it_new", account_id="a1", direction="in")
        assert not await store.insert_item(item, message, [])
    client = AsyncMongoClient(mongo_db_url)
    indexes = await client[parse_uri(mongo_db_url)["database"]].items.index_information()
    await client.close()
    assert indexes["applied_1"].get("unique") is True


async def test_sqlite_backfills_blob_references_of_old_messages(sqlite_url: str) -> None:
    async with opened_store(sqlite_url) as store:
        raw = await store.put_blob(b"raw mail")
        logo = await store.put_blob(b"logo")
        attachment = StoredAttachment(
            filename="l.png", content_type="image/png", size=4, sha256="x", blob_ref=logo
        )
        item = Item(
            id="it1", item_type=ItemType.INCIDENT, number=1, project="P", account_id="a1",
            title="t",
        )  # fmt: skip
        message = ThreadMessage(
            key="k1", item_id="it1", account_id="a1", direction="in", blob_ref=raw,
            attachments=[attachment],
        )  # fmt: skip
        assert await store.insert_item(item, message, [])
    # What an older version left: no reference rows, schema version 0.
    with contextlib.closing(sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))) as db:
        db.execute("DELETE FROM message_blobs")
        db.execute("PRAGMA user_version = 0")
        db.commit()
    async with opened_store(sqlite_url) as store:
        assert await store.purge_blobs(utcnow()) == 0
        assert await store.get_blob(raw) == b"raw mail"
        assert await store.get_blob(logo) == b"logo"
