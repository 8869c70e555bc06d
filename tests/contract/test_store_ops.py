"""Contract of the operations port (the processing log, the quarantine, heartbeats), on SQLite and
on MongoDB.

Every test runs on both adapters (the `store` fixture, tests/conftest.py); MongoDB is the
mongoeco wire server unless POSTROOM_TEST_MONGODB_URL names a real one.
"""

from datetime import timedelta

from postroom_shared.models import ProcessingLogEntry, QuarantineEntry, ServiceHeartbeat, utcnow
from postroom_shared.store.ports import OpsStore


async def test_processing_log(store: OpsStore) -> None:
    now = utcnow()
    for n, (account, key) in enumerate([("a1", "k1"), ("a1", "k2"), ("a2", "k3")]):
        await store.put_log(
            ProcessingLogEntry(
                id=f"{key}:converter",
                mail_key=key,
                account_id=account,
                stage="converter",
                action="created",
                reason=f"r{n}",
                at=now + timedelta(seconds=n),
            )
        )
    await store.put_log(
        ProcessingLogEntry(
            id="k1:converter",
            mail_key="k1",
            account_id="a1",
            stage="converter",
            action="ignored",
            reason="second write is ignored",
        )
    )
    assert [e.mail_key for e in await store.list_log()] == ["k3", "k2", "k1"]
    assert [e.mail_key for e in await store.list_log(account_id="a1")] == ["k2", "k1"]
    only = await store.list_log(mail_key="k1")
    assert [(e.action, e.reason) for e in only] == [("created", "r0")]
    assert len(await store.list_log(limit=1)) == 1
    assert await store.list_log(account_id='{"$ne": null}') == []


async def test_log_time_window_and_quarantine_count(store: OpsStore) -> None:
    now = utcnow()
    for i in range(3):
        await store.put_log(
            ProcessingLogEntry(
                id=f"l{i}",
                mail_key=f"m{i}",
                account_id="a1",
                stage="converter",
                action="created",
                reason="r",
                at=now - timedelta(hours=i),
            )
        )
    recent = await store.list_log(since=now - timedelta(minutes=90))
    assert [e.id for e in recent] == ["l0", "l1"]
    older = await store.list_log(until=now - timedelta(minutes=30))
    assert [e.id for e in older] == ["l1", "l2"]
    assert await store.count_quarantine() == 0
    await store.put_quarantine(
        QuarantineEntry(
            id="q1", account_id="a1", mail_key="m", reason="r", blob_ref="b", event="{}"
        )
    )
    assert await store.count_quarantine() == 1


async def test_quarantine(store: OpsStore) -> None:
    entry = QuarantineEntry(
        id="q1",
        account_id="acc1",
        mail_key="k1",
        reason="too deep",
        blob_ref="sha256:" + "1" * 64,
        event="{}",
    )
    await store.put_quarantine(entry)
    await store.put_quarantine(entry.model_copy(update={"reason": "still too deep"}))
    got = await store.get_quarantine("q1")
    assert got is not None
    assert (got.attempts, got.reason, got.mail_key) == (2, "still too deep", "k1")
    # the first sighting is kept (MongoDB stores milliseconds)
    assert abs(got.created_at - entry.created_at) < timedelta(milliseconds=1)
    await store.put_quarantine(entry.model_copy(update={"id": "q2", "mail_key": "k2"}))
    assert {e.id for e in await store.list_quarantine()} == {"q1", "q2"}
    assert await store.delete_quarantine("q1")
    assert not await store.delete_quarantine("q1")
    assert await store.get_quarantine("q1") is None


async def test_heartbeats(store: OpsStore) -> None:
    old = ServiceHeartbeat(
        service="fetcher", instance="a", ready=True, seen_at=utcnow() - timedelta(minutes=5)
    )
    await store.heartbeat(old)
    await store.heartbeat(
        ServiceHeartbeat(service="converter", instance="b", ready=False, detail="broker down")
    )
    beats = await store.heartbeats(since=utcnow() - timedelta(seconds=30))
    assert [(b.service, b.ready, b.detail) for b in beats] == [("converter", False, "broker down")]
