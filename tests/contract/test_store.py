"""One contract, two adapters: every store test runs on SQLite and on MongoDB.

MongoDB is the mongoeco wire server unless POSTROOM_TEST_MONGODB_URL names a real one.
"""

import asyncio
from datetime import timedelta

import pytest

from postroom_shared.models import (
    Checkpoint,
    EmailAccount,
    Item,
    ItemType,
    LedgerEntry,
    MailboxSettings,
    NotificationTemplate,
    Party,
    Person,
    ProcessingLogEntry,
    QuarantineEntry,
    SendRecord,
    ServiceHeartbeat,
    SmtpSettings,
    ThreadMessage,
    Workflow,
    WorkflowStep,
    utcnow,
)
from postroom_shared.store import ItemChanges, ItemQuery, OutboxEvent, Store


def _account(account_id: str = "acc1", name: str = "Support", active: bool = True) -> EmailAccount:
    return EmailAccount(
        id=account_id,
        name=name,
        address=f"{account_id}@example.test",
        project="Support",
        active=active,
        mailbox=MailboxSettings(host="127.0.0.1", port=143, username="u", password_enc="v1:x"),
    )


def _item(key: str, number: int, participants: list[str] | None = None) -> Item:
    return Item(
        id=f"it_{key}",
        item_type=ItemType.INCIDENT,
        number=number,
        project="Support",
        account_id="acc1",
        title=f"title {key}",
        participants=participants or [],
        requester=Party(address="cust@x.test"),
        message_count=1,
    )


def _msg(key: str, item_id: str, message_id: str = "") -> ThreadMessage:
    return ThreadMessage(
        key=key,
        item_id=item_id,
        account_id="acc1",
        direction="in",
        message_id=message_id or f"<{key}@x.test>",
        subject="s",
        text="t",
    )


def _event(event_id: str) -> OutboxEvent:
    return OutboxEvent(event_id=event_id, routing_key="item.created.v1", body='{"x": 1}')


async def test_accounts(store: Store) -> None:
    await store.put_account(_account("a1", "One"))
    await store.put_account(_account("a2", "Two", active=False))
    assert [a.id for a in await store.list_accounts()] == ["a1", "a2"]
    assert [a.id for a in await store.list_accounts(active_only=True)] == ["a1"]
    renamed = _account("a1", "Uno")
    await store.put_account(renamed)
    got = await store.get_account("a1")
    assert got is not None and got.name == "Uno" and got.box.password_enc == "v1:x"
    with pytest.raises(ValueError, match="already exists"):
        await store.put_account(_account("a3", "Two"))
    assert await store.get_account("nope") is None


async def test_smtp_settings_and_checkpoints(store: Store) -> None:
    assert await store.get_smtp_settings() is None
    await store.put_smtp_settings(SmtpSettings(host="smtp.x.test", port=587))
    smtp = await store.get_smtp_settings()
    assert smtp is not None and smtp.host == "smtp.x.test"
    assert await store.get_checkpoint("a1", "INBOX") is None
    await store.set_checkpoint(
        Checkpoint(account_id="a1", folder="INBOX", uidvalidity=7, last_uid=3)
    )
    await store.set_checkpoint(
        Checkpoint(account_id="a1", folder="INBOX", uidvalidity=7, last_uid=9)
    )
    checkpoint = await store.get_checkpoint("a1", "INBOX")
    assert checkpoint is not None and (checkpoint.uidvalidity, checkpoint.last_uid) == (7, 9)


async def test_blobs(store: Store) -> None:
    data = b"x" * 300_000
    ref = await store.put_blob(data)
    assert ref == await store.put_blob(data)
    assert await store.get_blob(ref) == data
    with pytest.raises(KeyError):
        await store.get_blob("sha256:" + "0" * 64)


async def test_item_numbers_are_unique_under_concurrency(store: Store) -> None:
    numbers = await asyncio.gather(*(store.next_item_number(ItemType.INCIDENT) for _ in range(20)))
    assert sorted(numbers) == list(range(1, 21))
    assert await store.next_item_number(ItemType.DEFECT) == 1


async def test_insert_item_is_idempotent_per_mail(store: Store) -> None:
    item = _item("a", 1, ["cust@x.test"])
    assert await store.insert_item(item, _msg("k1", item.id), [_event("e1")])
    assert not await store.insert_item(item, _msg("k1", item.id), [_event("e1")])
    applied = await store.item_for_mail("k1")
    assert applied is not None and applied.id == item.id
    assert await store.item_for_mail("k2") is None
    found = await store.find_item_by_number(ItemType.INCIDENT, 1)
    assert found is not None and found.participants == ["cust@x.test"]
    assert [e.event_id for e in await store.pending_events()] == ["e1"]
    assert len(await store.list_messages(item.id)) == 1


async def test_append_message_once_per_key(store: Store) -> None:
    item = _item("a", 1)
    await store.insert_item(item, _msg("k1", item.id), [])
    assert await store.append_message(
        item.id,
        _msg("k2", item.id, "<reply@x.test>"),
        [_event("e2")],
        add_participants=["pal@x.test"],
    )
    assert not await store.append_message(
        item.id,
        _msg("k2", item.id, "<reply@x.test>"),
        [_event("e2")],
        add_participants=["pal@x.test"],
    )
    got = await store.get_item(item.id)
    assert got is not None and got.message_count == 2 and got.participants == ["pal@x.test"]
    assert got.updated_at >= got.created_at
    applied = await store.item_for_mail("k2")
    assert applied is not None and applied.id == item.id
    by_ref = await store.find_item_by_message_ids("acc1", ["<unknown@x>", "<reply@x.test>"])
    assert by_ref is not None and by_ref.id == item.id
    assert await store.find_item_by_message_ids("other", ["<reply@x.test>"]) is None
    assert await store.find_item_by_message_ids("acc1", []) is None
    assert [m.key for m in await store.list_messages(item.id)] == ["k1", "k2"]
    with pytest.raises(KeyError):
        await store.append_message("it_missing", _msg("k3", "it_missing"), [], add_participants=[])


async def test_outbox_is_drained_by_mark_published(store: Store) -> None:
    await store.insert_item(_item("a", 1), _msg("k1", "it_a"), [_event("e1"), _event("e2")])
    await store.insert_item(_item("b", 2), _msg("k2", "it_b"), [_event("e3")])
    assert {e.event_id for e in await store.pending_events()} == {"e1", "e2", "e3"}
    await store.mark_published("e2")
    await store.mark_published("e2")
    assert {e.event_id for e in await store.pending_events()} == {"e1", "e3"}
    pending = await store.pending_events(limit=1)
    assert len(pending) == 1 and pending[0].body == '{"x": 1}'


async def test_items_are_listed_newest_first(store: Store) -> None:
    for n in range(1, 4):
        await store.insert_item(_item(str(n), n), _msg(f"k{n}", f"it_{n}"), [])
    assert [i.number for i in await store.query_items(ItemQuery())] == [3, 2, 1]
    assert [i.number for i in await store.query_items(ItemQuery(limit=2))] == [3, 2]


async def test_ledger_claims_are_exclusive(store: Store) -> None:
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


async def test_heartbeats(store: Store) -> None:
    old = ServiceHeartbeat(
        service="fetcher", instance="a", ready=True, seen_at=utcnow() - timedelta(minutes=5)
    )
    await store.heartbeat(old)
    await store.heartbeat(
        ServiceHeartbeat(service="converter", instance="b", ready=False, detail="broker down")
    )
    beats = await store.heartbeats(since=utcnow() - timedelta(seconds=30))
    assert [(b.service, b.ready, b.detail) for b in beats] == [("converter", False, "broker down")]


async def test_quarantine(store: Store) -> None:
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


async def test_processing_log(store: Store) -> None:
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


async def test_append_applies_item_changes_once(store: Store) -> None:
    item = _item("a", 1)
    await store.insert_item(item, _msg("k1", item.id), [])
    changes = ItemChanges(status="open", workflow_step="Triage", bounced=("x@y.test",))
    assert await store.append_message(
        item.id, _msg("k2", item.id), [], add_participants=[], changes=changes
    )
    assert not await store.append_message(
        item.id, _msg("k2", item.id), [], add_participants=[], changes=ItemChanges(status="closed")
    )
    got = await store.get_item(item.id)
    assert got is not None
    assert (got.status, got.workflow_step, got.bounced) == ("open", "Triage", ["x@y.test"])
    await store.append_message(
        item.id,
        _msg("k3", item.id),
        [],
        add_participants=[],
        changes=ItemChanges(bounced=("x@y.test", "z@y.test")),
    )
    got = await store.get_item(item.id)
    assert got is not None and got.bounced == ["x@y.test", "z@y.test"] and got.status == "open"


async def test_workflows(store: Store) -> None:
    assert await store.get_workflow("wf") is None
    flow = Workflow(
        id="wf",
        name="Help desk",
        steps=[
            WorkflowStep(name="New"),
            WorkflowStep(name="Closed", on_new_email="Reopened"),
            WorkflowStep(name="Reopened"),
        ],
    )
    await store.put_workflow(flow)
    got = await store.get_workflow("wf")
    assert got == flow
    assert got.next_step_on_email("Closed") == "Reopened"
    assert got.next_step_on_email("New") is None


async def test_people_by_address(store: Store) -> None:
    alice = Person(id="u1", kind="user", name="Alice", emails=["alice@x.test", "a@x.test"])
    await store.put_person(alice)
    found = await store.find_person("A@X.TEST")
    assert found is not None and found.id == "u1"
    with pytest.raises(ValueError, match="belongs to another person"):
        await store.put_person(Person(id="u2", kind="customer", emails=["a@x.test"]))
    contact = Person(id="c1", kind="contact", name="New", emails=["new@x.test"])
    assert await store.ensure_contact(contact) == contact
    again = await store.ensure_contact(contact.model_copy(update={"id": "c2"}))
    assert again.id == "c1"
    assert (
        await store.ensure_contact(Person(id="c3", kind="contact", emails=["a@x.test"]))
    ).id == "u1"


async def test_send_history(store: Store) -> None:
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


async def test_send_counts_for_the_budgets_and_an_accounts_history(store: Store) -> None:
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


async def test_templates(store: Store) -> None:
    assert await store.get_template("t1") is None
    template = NotificationTemplate(id="t1", name="Thanks", text="Hi {{ message.sender_name }}")
    await store.put_template(template)
    assert await store.get_template("t1") == template
