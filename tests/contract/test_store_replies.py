"""Contract of the replies port (the reply ledger, the history of automatic mail), on SQLite and on
MongoDB.

Every test runs on both adapters (the `store` fixture, tests/conftest.py); MongoDB is the
mongoeco wire server unless POSTROOM_TEST_MONGODB_URL names a real one.
"""

import asyncio
from datetime import timedelta

from postroom_shared.models import LedgerEntry, ProcessingLogEntry, SendRecord, utcnow
from postroom_shared.store.ports import ReplyStore, Store
from postroom_shared.store.ports.replies import FinishedSend, SendCheck, SendQuery, SendWindow


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


async def test_check_send_reads_the_ledger_and_only_for_a_new_mail_the_window(
    store: ReplyStore,
) -> None:
    now = utcnow()
    for minutes, recipient in [(90, "a@x.test"), (30, "a@x.test"), (5, "b@x.test")]:
        record = SendRecord(
            recipient=recipient,
            item_id="it_0",
            fingerprint="f",
            at=now - timedelta(minutes=minutes),
        )
        await store.record_send(record)
    hour = now - timedelta(hours=1)
    window = SendWindow(since=hour, budget_since=hour, budget=100, domain_budget=1)
    new = await store.check_send("it_1", "auto_reply:k", "a@x.test", window)
    assert new.ledger is None and [r.recipient for r in new.history] == ["a@x.test"]
    assert (new.sent, new.sent_to_domain) == (2, 1)  # the domain's count stops at its budget
    unlimited = SendWindow(since=hour, budget_since=hour)
    assert (await store.check_send("it_1", "auto_reply:k", "c@y.test", unlimited)) == SendCheck(
        None, [], 0, 0
    )
    assert await store.check_send("it_1", "auto_reply:k", "a@x.test", None) == SendCheck(None)

    entry = LedgerEntry(
        item_id="it_1", reason="auto_reply:k", recipient="a@x.test", message_id="<m>"
    )
    assert await store.claim_ledger(entry, stale_before=now) == "claimed"
    held = await store.check_send("it_1", "auto_reply:k", "a@x.test", window)
    assert held.ledger is not None and held.ledger.state == "sending"
    assert held.history == [] and held.sent == 0  # a claimed mail is not limited again


async def test_finish_send_marks_records_and_logs_once(store: Store) -> None:
    entry = LedgerEntry(
        item_id="it_1", reason="auto_reply:k", recipient="a@x.test", message_id="<m>"
    )
    assert await store.claim_ledger(entry, stale_before=utcnow()) == "claimed"
    record = SendRecord(recipient="a@x.test", item_id="it_1", fingerprint="f", account_id="acc1")
    log = ProcessingLogEntry(
        id="k:replier:auto_reply_sent:a@x.test",
        mail_key="k",
        account_id="acc1",
        stage="replier",
        action="auto_reply_sent",
        reason="a@x.test: 250 ok",
    )
    await store.finish_send(entry, record, log)
    await store.finish_send(entry, record, log)  # a repeat after a failure keeps one of each
    got = await store.get_ledger("it_1", "auto_reply:k", "a@x.test")
    assert got is not None and got.state == "sent" and got.sent_at is not None
    assert await store.claim_ledger(entry, stale_before=utcnow()) == "done"
    sent = await store.sends_since("a@x.test", utcnow() - timedelta(minutes=1))
    assert [(r.item_id, r.account_id) for r in sent] == [("it_1", "acc1")]
    assert [e.id for e in await store.list_log(mail_key="k")] == [log.id]
    assert await store.count_sends_since(utcnow() - timedelta(minutes=1), limit=10) == 1


def _entry(recipient: str, reason: str = "auto_reply:k") -> LedgerEntry:
    return LedgerEntry(item_id="it_1", reason=reason, recipient=recipient, message_id="<m>")


async def test_plural_calls_answer_as_the_singular_ones_one_after_the_other(store: Store) -> None:
    """The group commit's calls (many mails in one round trip): each mail's answer is what its
    own call would have said, in order; a key twice finds its first claim held."""
    now = utcnow()
    await store.record_send(
        SendRecord(recipient="a@x.test", item_id="it_0", fingerprint="f", at=now)
    )
    hour = now - timedelta(hours=1)
    window = SendWindow(since=hour, budget_since=hour, budget=100, domain_budget=100)
    queries = [
        SendQuery("it_1", "auto_reply:k", "a@x.test", window),
        SendQuery("it_1", "auto_reply:k", "b@x.test", None),
    ]
    checks = await store.check_sends(queries)
    singles = [await store.check_send(q.item_id, q.reason, q.recipient, q.window) for q in queries]
    assert checks == singles and [len(c.history) for c in checks] == [1, 0]
    assert checks[0].sent == 1 and checks[0].ledger is None

    a, b, c = _entry("a@x.test"), _entry("b@x.test"), _entry("c@x.test")
    recent = utcnow() - timedelta(minutes=1)
    claims = await store.claim_ledgers([a, b, a, c], stale_before=recent)
    assert claims == ["claimed", "claimed", "busy", "claimed"]
    assert await store.claim_ledgers([], stale_before=recent) == []

    def finished(entry: LedgerEntry) -> FinishedSend:
        record = SendRecord(recipient=entry.recipient, item_id="it_1", fingerprint="f")
        log = ProcessingLogEntry(
            id=f"k:replier:auto_reply_sent:{entry.recipient}",
            mail_key="k",
            account_id="acc1",
            stage="replier",
            action="auto_reply_sent",
            reason=f"{entry.recipient}: 250 ok",
        )
        return FinishedSend(entry, record, log)

    await store.finish_sends([finished(a), finished(b)])
    await store.finish_sends([finished(a), finished(b)])  # a repeat keeps one of each
    assert await store.claim_ledgers([a, b, c], stale_before=recent) == ["done", "done", "busy"]
    for entry, before in ((a, ["it_0"]), (b, [])):
        sent = await store.sends_since(entry.recipient, now - timedelta(minutes=1))
        assert [r.item_id for r in sent] == [*before, "it_1"], entry.recipient
    logged = await store.list_log(mail_key="k")
    assert sorted(e.reason for e in logged) == ["a@x.test: 250 ok", "b@x.test: 250 ok"]
    held = await store.get_ledger("it_1", "auto_reply:k", "c@x.test")
    assert held is not None and held.state == "sending"
