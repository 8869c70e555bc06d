"""Retention purges, on both stores: what is older than the cutoff goes, what is newer stays,
nothing an item (or a quarantine or log entry) still references is ever deleted, and running a
purge twice deletes nothing the second time."""

import asyncio
import contextlib
import os
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from bson import ObjectId
from prometheus_client import REGISTRY
from pymongo import AsyncMongoClient
from pymongo.uri_parser import parse_uri

from postroom_fetcher.domain.plan import msgid_namespace
from postroom_shared.models import (
    AfterRead,
    EmailAccount,
    Item,
    ItemType,
    LedgerEntry,
    MailboxSettings,
    ProcessingLogEntry,
    QuarantineEntry,
    SendRecord,
    ServiceHeartbeat,
    StoredAttachment,
    ThreadMessage,
    utcnow,
)
from postroom_shared.retention import SEEN_KEYS_PREFIX, RetentionPolicy, retention_loop, run_once
from postroom_shared.store import Store, StoreOptions
from tests.conftest import opened_store
from tests.factories import console_session

OLD = timedelta(days=40)
CUTOFF = timedelta(days=30)


def _log(key: str, at: datetime, blob_ref: str | None = None) -> ProcessingLogEntry:
    return ProcessingLogEntry(
        id=f"{key}:converter:ignored", mail_key=key, account_id="a1", stage="converter",
        action="ignored", reason="r", blob_ref=blob_ref, at=at,
    )  # fmt: skip


def _quarantine(qid: str, created_at: datetime, blob_ref: str = "") -> QuarantineEntry:
    return QuarantineEntry(
        id=qid, account_id="a1", mail_key=f"k-{qid}", reason="bad", blob_ref=blob_ref,
        event="{}", created_at=created_at,
    )  # fmt: skip


def _account(account_id: str, after_read: AfterRead) -> EmailAccount:
    return EmailAccount(
        id=account_id, name=account_id, address=f"{account_id}@x.test", project="P",
        after_read=after_read,
        mailbox=MailboxSettings(host="127.0.0.1", port=143, username="u"),
    )  # fmt: skip


async def _twice(purge: object, *args: object, **kwargs: object) -> tuple[int, int]:
    assert callable(purge)
    return await purge(*args, **kwargs), await purge(*args, **kwargs)


async def test_purge_log(store: Store) -> None:
    now = utcnow()
    await store.put_log(_log("old", now - OLD))
    await store.put_log(_log("new", now - timedelta(days=1)))
    assert await _twice(store.purge_log, now - CUTOFF) == (1, 0)
    assert [e.mail_key for e in await store.list_log()] == ["new"]


async def test_purge_sends_keeps_the_rate_window_history(store: Store) -> None:
    now = utcnow()
    for age in (OLD, timedelta(days=6)):
        record = SendRecord(recipient="c@x.test", item_id="it", fingerprint="f", at=now - age)
        await store.record_send(record)
    assert await _twice(store.purge_sends, now - CUTOFF) == (1, 0)
    kept = await store.sends_since("c@x.test", now - timedelta(days=365))
    assert [round((now - r.at) / timedelta(days=1)) for r in kept] == [6]


async def test_purge_ledger(store: Store) -> None:
    now = utcnow()
    for item, age in (("it_old", OLD), ("it_new", timedelta(hours=1))):
        entry = LedgerEntry(
            item_id=item, reason="auto_reply:k", recipient="c@x", message_id="<m>",
            claimed_at=now - age,
        )  # fmt: skip
        assert await store.claim_ledger(entry, stale_before=now - timedelta(days=400)) == "claimed"
        await store.mark_done(entry, "sent")
    assert await _twice(store.purge_ledger, now - CUTOFF) == (1, 0)
    assert await store.get_ledger("it_old", "auto_reply:k", "c@x") is None
    assert await store.get_ledger("it_new", "auto_reply:k", "c@x") is not None


async def test_purge_quarantine(store: Store) -> None:
    now = utcnow()
    await store.put_quarantine(_quarantine("q_old", now - timedelta(days=100)))
    await store.put_quarantine(_quarantine("q_new", now - timedelta(days=10)))
    assert await _twice(store.purge_quarantine, now - timedelta(days=90)) == (1, 0)
    assert [e.id for e in await store.list_quarantine()] == ["q_new"]


async def test_purge_heartbeats_of_stopped_processes(store: Store) -> None:
    now = utcnow()
    for instance, age in (("gone:1", timedelta(days=3)), ("alive:2", timedelta(seconds=1))):
        beat = ServiceHeartbeat(service="fetcher", instance=instance, ready=True, seen_at=now - age)
        await store.heartbeat(beat)
    assert await _twice(store.purge_heartbeats, now - timedelta(days=1)) == (1, 0)
    beats = await store.heartbeats(since=now - timedelta(days=365))
    assert [b.instance for b in beats] == ["alive:2"]


async def test_purge_seen_keys_only_of_the_given_accounts_and_namespaces(store: Store) -> None:
    namespace = msgid_namespace("INBOX")
    assert namespace.startswith(SEEN_KEYS_PREFIX)  # the fetcher's keys are the ones purged
    for account in ("a_del", "a_keep"):
        await store.add_seen_keys(account, namespace, ["<m1@x>", "<m2@x>"])
        await store.add_seen_keys(account, "uidl", ["u1"])
    later = utcnow() + timedelta(seconds=1)
    purge = store.purge_seen_keys
    assert await _twice(
        purge, utcnow() - CUTOFF, account_ids=["a_del"], namespace_prefix="msgid:"
    ) == (0, 0)
    assert await _twice(purge, later, account_ids=["a_del"], namespace_prefix="msgid:") == (2, 0)
    assert await store.seen_keys("a_del", namespace, ["<m1@x>", "<m2@x>"]) == set()
    assert await store.seen_keys("a_del", "uidl", ["u1"]) == {"u1"}
    assert await store.seen_keys("a_keep", namespace, ["<m1@x>"]) == {"<m1@x>"}
    assert await purge(later, account_ids=[], namespace_prefix="msgid:") == 0


async def test_seen_keys_recorded_before_they_had_a_time_start_ageing_at_the_first_purge(
    store: Store, store_url: str
) -> None:
    # A database written by an older version: keys without a time must not count as ancient.
    if store_url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(store_url.removeprefix("sqlite:///"))) as db:
            sql = "INSERT INTO seen_keys (account_id, namespace, key) VALUES (?, ?, ?)"
            db.execute(sql, ("a1", "msgid:INBOX", "k"))
            db.commit()
    else:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(store_url)
        db_name = parse_uri(store_url)["database"]
        doc: dict[str, object] = {
            "_id": "x",
            "account_id": "a1",
            "namespace": "msgid:INBOX",
            "key": "k",
        }
        await client[db_name].seen_keys.insert_one(doc)
        await client.close()
    assert (
        await store.purge_seen_keys(
            utcnow() - timedelta(days=1), account_ids=["a1"], namespace_prefix="msgid:"
        )
        == 0
    )
    assert await store.seen_keys("a1", "msgid:INBOX", ["k"]) == {"k"}
    assert (
        await store.purge_seen_keys(
            utcnow() + timedelta(seconds=1), account_ids=["a1"], namespace_prefix="msgid:"
        )
        == 1
    )


def _item(item_id: str) -> Item:
    return Item(
        id=item_id, item_type=ItemType.INCIDENT, number=1, project="P", account_id="a1",
        title="t", message_count=1,
    )  # fmt: skip


def _message(item_id: str, raw: str, attachment: str) -> ThreadMessage:
    stored = StoredAttachment(
        filename="logo.png", content_type="image/png", size=5, sha256="x", blob_ref=attachment
    )
    return ThreadMessage(
        key="k1", item_id=item_id, account_id="a1", direction="in", blob_ref=raw,
        attachments=[stored],
    )  # fmt: skip


async def _stored(store: Store, ref: str) -> bool:
    try:
        await store.get_blob(ref)
    except KeyError:
        return False
    return True


@pytest.mark.parametrize("kept", ["in the database", "outside"])
async def test_purge_blobs_never_takes_a_referenced_or_recent_blob(
    store_url: str, kept: str
) -> None:
    # Small blobs are rows or documents of the database, others files or GridFS files (and
    # blobs stored before the database kept any): the collector treats both alike.
    limit = StoreOptions().small_blob_max_bytes if kept == "in the database" else 0
    async with opened_store(store_url, StoreOptions(small_blob_max_bytes=limit)) as store:
        await _never_takes_a_referenced_or_recent_blob(store)


async def _never_takes_a_referenced_or_recent_blob(store: Store) -> None:
    refs = {
        name: await store.put_blob(f"{name} bytes".encode())
        for name in ("raw", "attachment", "quarantined", "logged", "orphan", "shared")
    }
    await asyncio.sleep(0.05)
    cutoff = utcnow()
    await asyncio.sleep(0.05)
    recent = await store.put_blob(b"in flight: its event is still queued")
    # The same bytes stored again after the cutoff (another mail with the same logo) must keep
    # the blob, although nothing references it yet.
    assert await store.put_blob(b"shared bytes") == refs["shared"]
    await store.insert_item(_item("it1"), _message("it1", refs["raw"], refs["attachment"]), [])
    await store.put_quarantine(_quarantine("q1", utcnow(), refs["quarantined"]))
    await store.put_log(_log("ignored", utcnow(), refs["logged"]))

    assert await _twice(store.purge_blobs, cutoff) == (1, 0)
    assert not await _stored(store, refs["orphan"])
    for name in ("raw", "attachment", "quarantined", "logged", "shared"):
        assert await _stored(store, refs[name]), name
    assert await _stored(store, recent)

    # Once the quarantine entry and the log entry are gone, their blobs go too.
    await store.delete_quarantine("q1")
    assert await store.purge_log(utcnow() + timedelta(seconds=1)) == 1
    assert await store.purge_blobs(cutoff) == 2
    assert not await _stored(store, refs["quarantined"])
    assert not await _stored(store, refs["logged"])
    # A blob collected can be stored again.
    assert await store.put_blob(b"orphan bytes") == refs["orphan"]
    assert await _stored(store, refs["orphan"])


async def test_purge_sessions_past_their_end(store: Store) -> None:
    await store.put_session(console_session("old", lasts_s=-10))
    await store.put_session(console_session("new"))
    assert await store.purge_sessions(utcnow()) == 1
    assert await store.get_session("old") is None
    assert await store.get_session("new") is not None
    assert await store.purge_sessions(utcnow()) == 0


def _deleted(kind: str) -> float:
    value = REGISTRY.get_sample_value("postroom_retention_deleted_total", {"kind": kind})
    return value or 0.0


async def test_cleanup_pass_purges_every_kind_and_counts_it(store: Store) -> None:
    policy = RetentionPolicy(
        log=CUTOFF, sends=CUTOFF, ledger=CUTOFF, quarantine=timedelta(days=90),
        seen_keys=timedelta(days=90), blob_grace=timedelta(days=30),
    )  # fmt: skip
    now = utcnow()
    await store.put_account(_account("a_del", AfterRead.DELETE))
    await store.put_account(_account("a_keep", AfterRead.MARK_READ))
    for account in ("a_del", "a_keep"):
        await store.add_seen_keys(account, msgid_namespace("INBOX"), ["<m@x>"])
    await store.put_log(_log("old", now - OLD, await store.put_blob(b"ignored mail")))
    await store.record_send(SendRecord(recipient="c@x", item_id="it", fingerprint="f"))
    await store.put_quarantine(_quarantine("q_old", now))
    await store.put_session(console_session("ended", lasts_s=3600))  # ended 100 days later
    await store.put_session(console_session("signed_in_then", lasts_s=101 * 86_400))
    before = {kind: _deleted(kind) for kind in ("log", "seen_keys", "blobs")}

    # A pass 100 days from now: everything above is old by then, except what must stay.
    later = now + timedelta(days=100)
    counts = await run_once(store, policy, now=later)
    assert counts == {
        "log": 1, "sends": 1, "ledger": 0, "quarantine": 1, "heartbeats": 0,
        "seen_keys": 1, "sessions": 1, "blobs": 1,
    }  # fmt: skip
    assert await store.get_session("signed_in_then") is not None
    assert await store.seen_keys("a_keep", msgid_namespace("INBOX"), ["<m@x>"]) == {"<m@x>"}
    assert {kind: _deleted(kind) - before[kind] for kind in before} == {
        "log": 1, "seen_keys": 1, "blobs": 1,
    }  # fmt: skip
    last_run = REGISTRY.get_sample_value("postroom_retention_last_run_timestamp_seconds")
    assert last_run is not None and last_run >= now.timestamp()
    assert set((await run_once(store, policy, now=later)).values()) == {0}


async def test_cleanup_loop_runs_on_one_replica_at_a_time(store: Store) -> None:
    policy = RetentionPolicy(
        log=CUTOFF, sends=CUTOFF, ledger=CUTOFF, quarantine=CUTOFF, seen_keys=CUTOFF,
        blob_grace=CUTOFF,
    )  # fmt: skip
    await store.put_log(_log("old", utcnow() - OLD))
    first = asyncio.create_task(retention_loop(store, policy, interval_s=60, owner="api:1"))
    try:
        for _ in range(100):
            if not await store.list_log():
                break
            await asyncio.sleep(0.05)
        assert await store.list_log() == []
        # The first replica holds the lease: the second one waits its turn and purges nothing.
        await store.put_log(_log("old2", utcnow() - OLD))
        second = asyncio.create_task(retention_loop(store, policy, interval_s=60, owner="api:2"))
        await asyncio.sleep(0.5)
        second.cancel()
        assert [e.mail_key for e in await store.list_log()] == ["old2"]
    finally:
        first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_purge_blobs_removes_leftovers_of_writers_that_died(
    store: Store, store_url: str
) -> None:
    # A writer killed mid-upload leaves a temporary file (disk) or chunks without their files
    # document (GridFS writes that last); past the grace period they go, younger ones stay.
    old = utcnow() - timedelta(days=40)
    if store_url.startswith("sqlite:///"):
        blob_dir = Path(store_url.removeprefix("sqlite:///")).parent / "blobs" / "ab"
        blob_dir.mkdir(parents=True)
        dead, alive = blob_dir / ("ab" + "0" * 62 + ".tmp123"), blob_dir / "x.tmp456"
        for path in (dead, alive):
            path.write_bytes(b"half a blob")
        os.utime(dead, (old.timestamp(), old.timestamp()))
        await store.purge_blobs(utcnow() - CUTOFF)
        assert not dead.exists() and alive.exists()
        return
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(store_url)
    chunks = client[parse_uri(store_url)["database"]]["blobs.chunks"]
    dead_id, alive_id = ObjectId.from_datetime(old), ObjectId()
    for files_id in (dead_id, alive_id):
        await chunks.insert_one({"files_id": files_id, "n": 0, "data": b"half a blob"})
    assert await store.purge_blobs(utcnow() - CUTOFF) == 1
    left = [doc["files_id"] async for doc in chunks.find({}, {"files_id": 1})]
    await client.close()
    assert left == [alive_id]
