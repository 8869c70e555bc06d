"""Contract of the replies port (the reply ledger, the history of automatic mail), on SQLite and on
MongoDB.

Every test runs on both adapters (the `store` fixture, tests/conftest.py); MongoDB is the
mongoeco wire server unless POSTROOM_TEST_MONGODB_URL names a real one.
"""

import asyncio
from datetime import timedelta

from postroom_shared.models import LedgerEntry, SendRecord, utcnow
from postroom_shared.store.ports import ReplyStore


async def test_ledger_claims_are_exclusive(store: ReplyStore) -> None:
    assert await store.get_ledger("it_1", "auto_reply:k", "c@x") is None
    entry = LedgerEntry(item_id="it_1", reason="auto_reply:k", recipient="c@x", message_id="<m>")
    recent = utcnow() - timedelta(minutes=1)
    claims = await asyncio.gather(
        *(store.claim_ledger(entry, stale_before=recent) for _ in range(5))
    )
    assert sorted(claims) == ["busy", "busy", "busy", "busy", "claimed"]
    # a claim whose sender died (older than stale_before) is taken over
    later = entry.model_copy(update={"claimed_at": utcnow()})
    assert await store.claim_ledger(later, stale_before=utcnow() + timedelta(seconds=1)) == (
        "claimed"
    )
    await store.mark_done(entry, "sent")
    assert await store.claim_ledger(entry, stale_before=utcnow()) == "done"
    got = await store.get_ledger("it_1", "auto_reply:k", "c@x")
    assert got is not None and got.state == "sent" and got.message_id == "<m>"


async def test_send_history(store: ReplyStore) -> None:
    now = utcnow()
    for minutes, recipient in [
        (90, "a@x.test"),
        (30, "a@x.test"),
        (5, "b@x.test"),
        (1, "a@x.test"),
    ]:
        await store.record_send(
            SendRecord(
                recipient=recipient,
                item_id="it_1",
                fingerprint="f",
                at=now - timedelta(minutes=minutes),
            )
        )
    recent = await store.sends_since("a@x.test", now - timedelta(minutes=60))
    assert [round((now - r.at).total_seconds() / 60) for r in recent] == [30, 1]
    assert await store.sends_since("c@x.test", now - timedelta(days=7)) == []


async def test_send_counts_for_the_budgets_and_an_accounts_history(store: ReplyStore) -> None:
    now = utcnow()
    for minutes, recipient, account in [
        (90, "a@victim.test", "acc1"),
        (30, "b@victim.test", "acc1"),
        (20, "c@Victim.test", "acc2"),
        (10, "d@other.test", "acc1"),
        (1, "e@victim.test.other.test", None),
    ]:
        await store.record_send(
            SendRecord(
                recipient=recipient.lower(),
                item_id="it_1",
                fingerprint="f",
                at=now - timedelta(minutes=minutes),
                purpose="auto_reply",
                account_id=account,
            )
        )
    hour = now - timedelta(hours=1)
    assert await store.count_sends_since(hour, limit=100) == 4
    assert await store.count_sends_since(hour, limit=2) == 2  # counting stops at the budget
    assert await store.count_sends_since(hour, domain="victim.test", limit=100) == 2
    assert await store.count_sends_since(hour, domain="VICTIM.test", limit=100) == 2
    assert await store.count_sends_since(hour, domain="nowhere.test", limit=100) == 0
    history = await store.account_sends_since("acc1", hour, limit=100)
    assert [r.recipient for r in history] == ["b@victim.test", "d@other.test"]
    assert history[0].purpose == "auto_reply" and history[0].account_id == "acc1"
    assert len(await store.account_sends_since("acc1", hour, limit=1)) == 1
