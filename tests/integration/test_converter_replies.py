"""Mail on existing items: status and workflow moves, out-of-office and bounces (docs/features.md
F4, F10)."""

import asyncio
import json
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import aio_pika
import pytest
from pydantic import SecretStr

from postroom_converter.domain.outcome import Created, Ignored, Threaded
from postroom_converter.service import Converter
from postroom_converter.settings import ConverterSettings
from postroom_shared.contracts import MailReceivedV1
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.models import (
    EmailAccount,
    MailboxSettings,
    Party,
    ReplyActions,
    ThreadMessage,
    Workflow,
    WorkflowStep,
)
from postroom_shared.runtime import make_broker
from postroom_shared.store import open_store
from postroom_shared.topology import EVENTS, declare_topology
from tests import factories
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
SECRET = "r" * 40
SIGNER = MessageIdSigner(SECRET, "example.test")


@pytest.fixture
async def converter(stack: StackEnv, store_url: str) -> AsyncIterator[Converter]:
    store = await open_store(store_url)
    await store.put_workflow(
        Workflow(
            id="desk",
            name="Help desk",
            steps=[
                WorkflowStep(name="New", on_new_email="Customer replied"),
                WorkflowStep(name="Customer replied"),
            ],
        )
    )
    await store.put_account(
        EmailAccount(
            id="acc1",
            name="Support",
            address="support@example.test",
            project="Support",
            workflow_id="desk",
            on_reply=ReplyActions(change_status_to="open", move_workflow_step=True),
            mailbox=MailboxSettings(host="h", port=1, username="support@example.test"),
        )
    )
    settings = ConverterSettings(
        store_url=store_url, broker_url=stack.amqp_url, secret_key=SecretStr(SECRET)
    )
    broker = make_broker(settings)
    await broker.connect()
    await declare_topology(broker)
    try:
        yield Converter(store=store, broker=broker, signer=SIGNER)
    finally:
        await broker.stop()
        await store.close()


def _received(n: int, msg: EmailMessage) -> MailReceivedV1:
    return _received_raw(n, msg.as_bytes())


def _received_raw(n: int, raw: bytes) -> MailReceivedV1:
    return factories.mail_received(f"acc1/INBOX/3/{n}", raw)


def _mail(subject: str, *, sender: str = "customer@example.org", **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@example.test"
    msg["Subject"] = subject
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("text")
    return msg


async def test_reply_moves_status_and_step_but_out_of_office_does_not(
    converter: Converter,
) -> None:
    store = factories.whole_store(converter.store)
    assert isinstance(created := await converter.handle(_received(1, _mail("Printer"))), Created)
    assert created.token == "INC-1"
    item = (await factories.all_items(store))[0]
    assert (item.status, item.workflow_step) == ("new", "New")
    contact = await store.find_person("customer@example.org")  # unknown sender → contact
    assert contact is not None and contact.kind == "contact"
    assert item.requester_id == contact.id

    ooo = _mail("Automatic reply: [INC-1] Printer", Auto_Submitted="auto-replied")
    ooo_outcome = await converter.handle(_received(2, ooo))
    assert isinstance(ooo_outcome, Threaded) and ooo_outcome.token == "INC-1"
    item = (await factories.all_items(store))[0]
    assert (item.status, item.workflow_step, item.message_count) == ("new", "New", 2)

    outcome = await converter.handle(_received(3, _mail("Re: [INC-1] Printer")))
    assert isinstance(outcome, Threaded) and outcome.token == "INC-1"
    assert "participant" in outcome.reason
    item = (await factories.all_items(store))[0]
    assert (item.status, item.workflow_step, item.message_count) == ("open", "Customer replied", 3)
    pending = [json.loads(e.body) for e in await store.pending_events()]
    assert pending == []  # all published
    log = await store.list_log(mail_key="acc1/INBOX/3/3")
    assert log[0].action == "threaded" and log[0].item_token == "INC-1"


async def test_a_mails_update_names_its_sender_as_the_actor(
    converter: Converter, stack: StackEnv
) -> None:
    """Subscribers see who moved the item (as for item commands): the mail's sender."""
    async with await aio_pika.connect(stack.amqp_url) as connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(await channel.get_exchange(EVENTS.name), "item.updated.v1")
        await converter.handle(_received(1, _mail("Printer")))
        answer = _mail("Re: [INC-1] Printer", sender="Casey <customer@example.org>")
        assert isinstance(await converter.handle(_received(2, answer)), Threaded)
        for _ in range(100):
            if (message := await queue.get(no_ack=True, fail=False)) is not None:
                break
            await asyncio.sleep(0.1)
        assert message is not None, "no item.updated.v1"
    update = json.loads(message.body)
    assert update["changes"] == ["message_appended", "status", "workflow_step"]
    assert update["actor"] == {"kind": "mail", "id": "customer@example.org", "name": "Casey"}
    assert update["command_id"] is None


async def test_unthreaded_automatic_mail_is_ignored_and_a_stranger_gets_a_new_item(
    converter: Converter,
) -> None:
    outcome = await converter.handle(
        _received(1, _mail("Out of office", Auto_Submitted="auto-replied"))
    )
    assert isinstance(outcome, Ignored)
    assert outcome.reason.startswith("out_of_office mail that belongs to no item")
    await converter.handle(_received(2, _mail("Printer")))
    hijack = await converter.handle(_received(3, _mail("Re: [INC-1]", sender="evil@example.net")))
    assert isinstance(hijack, Created) and hijack.token == "INC-2"
    assert "anti-hijack" in hijack.reason


async def test_bounce_links_to_the_item_of_the_returned_mail(converter: Converter) -> None:
    store = factories.whole_store(converter.store)
    await converter.handle(_received(1, _mail("Printer")))
    item = (await factories.all_items(store))[0]
    ours = SIGNER.make(item.id, "n1")
    await store.append_message(
        item.id,
        ThreadMessage(
            key=f"out:{ours}",
            item_id=item.id,
            account_id="acc1",
            direction="out",
            message_id=ours,
            sender=Party(address="support@example.test"),
            to=[Party(address="gone@example.org")],
        ),
        [],
        add_participants=[],
    )
    dsn = (
        "From: MAILER-DAEMON@mx.example.org\r\nTo: support@example.test\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        "Final-Recipient: rfc822; gone@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        "--b\r\nContent-Type: message/rfc822\r\n\r\n"
        f"From: support@example.test\r\nTo: gone@example.org\r\nMessage-ID: {ours}\r\n"
        "Subject: [INC-1] Printer\r\n\r\nhello\r\n--b--\r\n"
    ).encode()
    outcome = await converter.handle(_received_raw(2, dsn))
    assert isinstance(outcome, Threaded) and outcome.token == "INC-1", outcome
    after = await store.get_item(item.id)
    assert after is not None and after.bounced == ["gone@example.org"] and after.status == "new"
    # the hard bounce marks the address on its person (a new contact: nobody had it)
    person = await store.find_person("gone@example.org")
    assert person is not None and person.kind == "contact" and person.bounce is not None
    mark = person.bounce
    assert (mark.address, mark.code, mark.item_id) == ("gone@example.org", "5.1.1", item.id)
    assert mark.reason == "Undelivered Mail Returned to Sender"
    # a redelivery changes nothing; an admin's clear (the store call the API makes) holds
    await converter.handle(_received_raw(2, dsn))
    again = await store.find_person("gone@example.org")
    assert again is not None and again.bounce == mark
    assert await store.set_bounce(person.id, None)
    cleared = await store.get_person(person.id)
    assert cleared is not None and cleared.bounce is None
    assert not await store.set_bounce("ct_nobody", mark)


async def test_our_own_mail_is_ignored_before_any_threading_lookup(
    converter: Converter, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = factories.whole_store(converter.store)
    await converter.handle(_received(1, _mail("Printer")))
    item = (await factories.all_items(store))[0]
    lookups: list[str] = []
    for name in ("get_item", "find_item_by_number", "find_item_by_message_ids"):
        real = getattr(store, name)

        async def spy(*args: object, _name: str = name, _real: Any = real) -> Any:
            lookups.append(_name)
            return await _real(*args)

        monkeypatch.setattr(store, name, spy)
    # It names the item every way threading knows: signed id, subject token, reference.
    echo = _mail(
        "Re: [INC-1] Printer",
        Message_ID=SIGNER.make(item.id, "n2"),
        In_Reply_To=SIGNER.make(item.id, "n1"),
        References=f"{SIGNER.make(item.id, 'n1')} <first@example.org>",
    )
    outcome = await converter.handle(_received(2, echo))
    print(f"outcome: {outcome}; threading lookups: {lookups}")
    assert isinstance(outcome, Ignored)
    assert outcome.reason == "our own mail came back: our Message-ID"
    assert lookups == []
    log = await store.list_log(mail_key="acc1/INBOX/3/2")
    assert [e.action for e in log] == ["ignored"]
    assert (await store.get_item(item.id)) == item


async def test_attachments_are_saved_and_html_is_sanitised(converter: Converter) -> None:
    store = factories.whole_store(converter.store)
    msg = _mail("Screenshot")
    msg.add_alternative(
        '<p onclick="x()">See <img src="cid:shot@x"> and <img src="https://tracker.example/p.gif">'
        "</p><script>alert(1)</script>",
        subtype="html",
    )
    html_part = msg.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    html_part.add_related(b"\x89PNG fake", "image", "png", cid="<shot@x>")
    msg.add_attachment(
        b"%PDF-1.4 report", maintype="application", subtype="pdf", filename="Bericht für März.pdf"
    )
    await converter.handle(_received(1, msg))
    item = (await factories.all_items(store))[0]
    thread = await store.list_messages(item.id)
    saved = {a.filename: a for a in thread[0].attachments}
    assert "Bericht für März.pdf" in saved
    assert await store.get_blob(saved["Bericht für März.pdf"].blob_ref) == b"%PDF-1.4 report"
    inline = [a for a in thread[0].attachments if a.content_id == "shot@x"]
    assert inline and inline[0].inline
    html = thread[0].html or ""
    assert "cid:shot@x" in html
    assert "tracker.example" not in html and "<script" not in html and "onclick" not in html

    account = await store.get_account("acc1")
    assert account is not None
    account.items.save_attachments = False
    await store.put_account(account)
    await converter.handle(_received(2, msg))
    second = next(i for i in await factories.all_items(store) if i.id != item.id)
    assert (await store.list_messages(second.id))[0].attachments == []
