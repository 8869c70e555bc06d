"""The replier on real Postfix, Dovecot and RabbitMQ: sends, records, and stops at the limits."""

import asyncio
import imaplib
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal

import pytest

from postroom_replier.service import Replier
from postroom_shared.contracts import (
    ItemUpdatedV1,
    deterministic_event_id,
)
from postroom_shared.models import (
    LedgerEntry,
    NotificationTemplate,
    ProcessingLogEntry,
    SendRecord,
)
from postroom_shared.store import Store, StoreUnavailableError
from postroom_shared.store.ports.replies import FinishedSend
from tests import factories
from tests.fetcher_proc import copies_in_inbox
from tests.integration.item_owner import ItemOwner, item_owner
from tests.integration.replier_stack import running_replier
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack


def _inbox_count(stack: StackEnv, user: str) -> int:
    with imaplib.IMAP4("127.0.0.1", stack.imap_port) as imap:
        imap.login(user, user)
        _, data = imap.select("INBOX", readonly=True)
        return int(data[0] or 0)


@pytest.fixture
async def replier(stack: StackEnv, store_url: str) -> AsyncIterator[Replier]:
    async with running_replier(stack, store_url) as running:
        yield running


@pytest.fixture
async def owner(replier: Replier) -> AsyncIterator[ItemOwner]:
    """The converter's command consumer: it puts what the replier sent on the thread."""
    async with item_owner(replier.settings, factories.whole_store(replier.store)) as running:
        yield running


async def _delivered_bodies(stack: StackEnv, user: str, sent: dict[str, str]) -> dict[str, str]:
    """The delivered text of each mail in `sent` (name -> Message-ID) in `user`'s INBOX, waiting up
    to 10 s for all of them (whichever arrived, if not all do)."""

    def bodies() -> dict[str, str]:
        found = {}
        with imaplib.IMAP4("127.0.0.1", stack.imap_port) as imap:
            imap.login(user, user)
            imap.select("INBOX", readonly=True)
            for name, message_id in sent.items():
                _, hits = imap.search(None, "HEADER", "Message-ID", message_id)
                if hits[0]:
                    _, data = imap.fetch(hits[0].split()[0].decode(), "(BODY.PEEK[])")
                    raw = data[0][1] if isinstance(data[0], tuple) else b""
                    found[name] = raw.decode("utf-8", "replace")
        return found

    for _ in range(100):
        if len(found := bodies()) == len(sent):
            break
        await asyncio.sleep(0.1)
    return found


async def test_per_item_limit_stops_the_eleventh_reply(
    stack: StackEnv, replier: Replier, owner: ItemOwner
) -> None:
    item = await factories.stored_incident(factories.whole_store(replier.store), 1)
    before = _inbox_count(stack, "bob")
    for n in range(11):
        await replier.handle(factories.item_created(item, n, "bob@example.test"))
    history = await replier.store.sends_since("bob@example.test", item.created_at)
    assert len(history) == 10
    assert len(await owner.outbound(item.id, at_least=10)) == 10
    # Postfix delivers asynchronously; all ten arrive, the eleventh was never sent.
    for _ in range(100):
        if _inbox_count(stack, "bob") >= before + 10:
            break
        await asyncio.sleep(0.1)
    assert _inbox_count(stack, "bob") == before + 10


async def test_identical_reply_goes_out_once_per_seven_days(
    stack: StackEnv, replier: Replier
) -> None:
    item = await factories.stored_incident(factories.whole_store(replier.store), 3)
    await replier.handle(factories.item_created(item, 1, "customer@example.test"))
    # The same text again, in another mail:
    await replier.handle(factories.item_created(item, 1, "customer@example.test"))
    assert len(await replier.store.sends_since("customer@example.test", item.created_at)) == 1


async def test_redelivered_event_sends_once(
    stack: StackEnv, replier: Replier, owner: ItemOwner
) -> None:
    item = await factories.stored_incident(factories.whole_store(replier.store), 2)
    event = factories.item_created(item, 1, "alice@example.test")
    await replier.handle(event)
    await replier.handle(event)
    assert len(await replier.store.sends_since("alice@example.test", item.created_at)) == 1
    outbound = await owner.outbound(item.id, at_least=1)
    assert len(outbound) == 1


async def test_account_template_is_used_and_a_broken_one_falls_back(
    stack: StackEnv, replier: Replier, owner: ItemOwner
) -> None:
    store = factories.whole_store(replier.store)
    await store.put_template(
        NotificationTemplate(
            id="thanks",
            name="Thanks",
            text="Dear {{ message.sender_address }}, noted: {{ item.title }}",
            html="<p>Noted: {{ item.title }}</p>",
        )
    )
    await store.put_template(NotificationTemplate(id="broken", name="Broken", text="{{ nope.x }}"))
    account = factories.account()
    sent: dict[str, str] = {}
    for number, template_id in ((4, "thanks"), (5, "broken")):
        account.auto_reply.template_id = template_id
        await store.put_account(account)
        item = await factories.stored_incident(store, number)
        await replier.handle(factories.item_created(item, number, "customer@example.test"))
        [out] = await owner.outbound(item.id, at_least=1)
        sent[template_id] = out.message_id

    found = await _delivered_bodies(stack, "customer", sent)
    assert "Dear customer@example.test, noted: Printer" in found["thanks"]
    assert "multipart/alternative" in found["thanks"]
    assert "This is an automatic reply." in found["broken"]  # the built-in template


class _FirstMarkFails:
    """The real store, except that the first ledger mark (`mark_done`, or `finish_send(s)`, which
    marks an automatic mail sent with its send record) raises `error`: a crash right after SMTP
    accepted the mail (RuntimeError), or a store locked at that moment (a transient one)."""

    def __init__(self, store: Store, error: Exception) -> None:
        self._store = store
        self._error: Exception | None = error
        self.failed = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def _fail_once(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            self.failed += 1
            raise error

    async def mark_done(self, entry: LedgerEntry, state: Literal["sent", "failed"]) -> None:
        self._fail_once()
        await self._store.mark_done(entry, state)

    async def finish_send(
        self, entry: LedgerEntry, record: SendRecord, log: ProcessingLogEntry | None
    ) -> None:
        self._fail_once()
        await self._store.finish_send(entry, record, log)

    async def finish_sends(self, sends: Sequence[FinishedSend]) -> None:
        self._fail_once()  # the replier's group commit marks through here
        await self._store.finish_sends(sends)


@asynccontextmanager
async def _replier_on(store: _FirstMarkFails, replier: Replier) -> AsyncIterator[Replier]:
    """`replier` on `store`, with a short SMTP timeout and no retries, so a claim left behind
    goes stale after 2 x 0.5 + 10 s instead of minutes (closed after: its SMTP sessions)."""
    settings = replier.settings.model_copy(
        update={"smtp_timeout_s": 0.5, "smtp_retry_deadline_s": 0.0}
    )
    other = Replier(
        store=store,
        broker=replier.broker,
        signer=replier.signer,
        secrets=replier.secrets,
        settings=settings,
    )
    try:
        yield other
    finally:
        await other.aclose()


async def test_a_store_locked_at_the_ledger_mark_does_not_send_a_second_copy(
    stack: StackEnv, replier: Replier
) -> None:
    """SMTP accepted, then the ledger write met a locked store: the replier retries the mark
    itself, so the event is done, and a redelivery sends nothing (before, the handler failed,
    the redelivery found the claim, waited for it to go stale and sent the mail again)."""
    locked = _FirstMarkFails(
        factories.whole_store(replier.store),
        StoreUnavailableError("SQLite stayed locked: database is locked"),
    )
    async with _replier_on(locked, replier) as patient:
        store = factories.whole_store(replier.store)
        item = await factories.stored_incident(store, 16)
        event = factories.item_created(item, 16, "customer@example.test")
        await patient.handle(event)
        assert locked.failed == 1
        reason = f"auto_reply:{event.message.mail_key}"
        held = await store.get_ledger(item.id, reason, "customer@example.test")
        assert held is not None and held.state == "sent"
        await patient.handle(event)  # a redelivery: nothing more

        def copies() -> int:
            return copies_in_inbox(stack, held.message_id)

        deadline = time.monotonic() + 10
        while copies() < 1:
            assert time.monotonic() < deadline, "the auto-reply never arrived"
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # a second copy would be on its way by now
        assert copies() == 1


async def test_crash_after_send_before_mark_resends_once_with_the_same_message_id(
    stack: StackEnv, replier: Replier, owner: ItemOwner
) -> None:
    """The documented at-least-once window: a sender that died after SMTP accepted, before it
    marked the ledger, left a claim; once that claim is stale the redelivery sends again, with
    the same Message-ID, and exactly once. (Short SMTP timeout and no retries, so the claim goes
    stale after 2 x 0.5 + 10 s instead of minutes.)"""
    crashing = _FirstMarkFails(
        factories.whole_store(replier.store),
        RuntimeError("crash between SMTP accept and ledger write"),
    )
    async with _replier_on(crashing, replier) as crashy:
        store = factories.whole_store(replier.store)
        item = await factories.stored_incident(store, 6)
        event = factories.item_created(item, 6, "customer@example.test")
        with pytest.raises(RuntimeError, match="crash"):
            await crashy.handle(event)
        reason = f"auto_reply:{event.message.mail_key}"
        held = await store.get_ledger(item.id, reason, "customer@example.test")
        assert held is not None and held.state == "sending"

        await crashy.handle(event)  # the redelivery: waits for the stale claim, sends once more
        await crashy.handle(event)  # a late duplicate: nothing more
        after = await store.get_ledger(item.id, reason, "customer@example.test")
        assert after is not None and after.state == "sent" and after.message_id == held.message_id
        outbound = await owner.outbound(item.id, at_least=1)
        assert [m.message_id for m in outbound] == [held.message_id]  # one thread entry

        def copies() -> int:
            return copies_in_inbox(stack, held.message_id)

        for _ in range(100):
            if copies() >= 2:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        assert copies() == 2  # the original and exactly one resend, same Message-ID


async def test_a_handler_cancelled_while_sending_still_marks_the_ledger(
    stack: StackEnv, replier: Replier
) -> None:
    """A broker connection that drops cancels the handlers in flight (aiormq cancels a closed
    channel's consumer tasks). Cut off between the claim and the mark, the redelivery used to
    wait for the stale claim and send a second copy; the send and its mark now finish anyway."""
    store = factories.whole_store(replier.store)
    item = await factories.stored_incident(store, 26)
    event = factories.item_created(item, 26, "customer@example.test")
    reason = f"auto_reply:{event.message.mail_key}"
    target = replier.delivery.target
    reached = asyncio.Event()

    async def slow_target() -> Any:
        reached.set()
        await asyncio.sleep(0.3)  # the handler is cancelled meanwhile
        return await target()

    replier.delivery.target = slow_target
    try:
        handling = asyncio.create_task(replier.handle(event))
        await asyncio.wait_for(reached.wait(), 10)
        handling.cancel()
        with pytest.raises(asyncio.CancelledError):
            await handling
        deadline = time.monotonic() + 10
        while True:
            held = await store.get_ledger(item.id, reason, "customer@example.test")
            assert held is not None
            if held.state == "sent":
                break
            assert time.monotonic() < deadline, f"the claim stayed {held.state!r}"
            await asyncio.sleep(0.1)
    finally:
        replier.delivery.target = target
    await replier.handle(event)  # the redelivery: nothing more

    deadline = time.monotonic() + 10
    while copies_in_inbox(stack, held.message_id) < 1:
        assert time.monotonic() < deadline, "the auto-reply never arrived"
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)  # a second copy would be on its way by now
    assert copies_in_inbox(stack, held.message_id) == 1


async def test_notification_list_hears_about_new_mail_but_not_its_author(
    stack: StackEnv, replier: Replier, owner: ItemOwner
) -> None:
    store = factories.whole_store(replier.store)
    item = await factories.stored_incident(
        store,
        7,
        notify=["bob@example.test", "customer@example.test", "noreply@example.org"],
        notify_on_create=False,
    )
    created = factories.item_created(item, 7, "customer@example.test")
    await replier.handle(created)  # auto-reply to the customer; no separate notification
    update = ItemUpdatedV1(
        **created.model_dump(exclude={"type", "event_id"}),
        event_id=deterministic_event_id(created.message.mail_key, "item.updated.v1"),
        changes=("message_appended",),
        threaded_by="test",
    )
    await replier.handle(update)
    await replier.handle(update)  # redelivered: still one notification
    outbound = await owner.outbound(item.id, at_least=2)
    kinds = sorted((m.kind, m.to[0].address) for m in outbound)
    assert kinds == [("auto_reply", "customer@example.test"), ("notification", "bob@example.test")]
    # the processing log says what became of the mail for everybody (the created and the
    # updated event here carry the same mail)
    logged = await store.list_log(mail_key=created.message.mail_key)
    assert sorted((e.action, e.reason.split(":")[0]) for e in logged) == [
        ("auto_reply_sent", "customer@example.test"),
        ("auto_reply_suppressed", "customer@example.test"),  # not the thread's first mail
        ("notification_sent", "bob@example.test"),
        ("notification_suppressed", "customer@example.test"),  # its author
        ("notification_suppressed", "nobody"),  # created: the auto-reply told them
        ("notification_suppressed", "noreply@example.org"),
    ]
    assert all(e.stage == "replier" and e.item_id == item.id for e in logged)
    [note] = [m for m in outbound if m.kind == "notification"]

    def headers() -> str:
        with imaplib.IMAP4("127.0.0.1", stack.imap_port) as imap:
            imap.login("bob", "bob")
            imap.select("INBOX", readonly=True)
            _, hits = imap.search(None, "HEADER", "Message-ID", note.message_id)
            if not hits[0]:
                return ""
            _, data = imap.fetch(hits[0].split()[0].decode(), "(BODY.PEEK[HEADER])")
            raw = data[0][1] if isinstance(data[0], tuple) else b""
            return raw.decode()

    for _ in range(100):
        if found := headers():
            break
        await asyncio.sleep(0.1)
    assert "Auto-Submitted: auto-generated" in found and "[INC-7]" in found


async def test_account_notification_template_is_used_and_a_missing_one_falls_back(
    stack: StackEnv, replier: Replier, owner: ItemOwner
) -> None:
    store = factories.whole_store(replier.store)
    await store.put_template(
        NotificationTemplate(
            id="note",
            name="Note",
            subject="Heads-up: {{ item.title }}",
            text="Heads-up on {{ item.token_brackets }} from {{ message.sender_address }}",
        )
    )
    account = factories.account()
    sent: dict[str, str] = {}
    for number, template_id in ((8, "note"), (9, "gone")):
        account.notification_template_id = template_id
        await store.put_account(account)
        item = await factories.stored_incident(
            store, number, notify=["bob@example.test"], notify_on_create=False
        )
        created = factories.item_created(item, number, "customer@example.test")
        await replier.handle(
            ItemUpdatedV1(
                **created.model_dump(exclude={"type", "event_id"}),
                event_id=deterministic_event_id(created.message.mail_key, "item.updated.v1"),
                changes=("message_appended",),
                threaded_by="test",
            )
        )
        outbound = await owner.outbound(item.id, at_least=1)
        [note] = [m for m in outbound if m.kind == "notification"]
        sent[template_id] = note.message_id
        assert note.to[0].address == "bob@example.test"

    found = await _delivered_bodies(stack, "bob", sent)
    assert "Heads-up on [INC-8] from customer@example.test" in found["note"]
    assert "Subject: Re: [INC-8] Heads-up: Printer" in found["note"]
    assert "Auto-Submitted: auto-generated" in found["note"]
    assert "This is an automatic notification." in found["gone"]  # the built-in template
