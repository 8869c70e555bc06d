"""Mail about work on an item, on real Postfix, Dovecot and RabbitMQ: the team's reply reaches
the customer's INBOX as a person's mail, threaded and once; a status change notifies the
notification list but not whoever made it; an address with a bounce mark gets no automatic
mail. The item events are built by hand, as the item's owner would publish them."""

import email
import uuid
from collections.abc import AsyncIterator
from email.message import Message

import pytest

from postroom_replier.service import Replier
from postroom_shared.contracts import (
    ActorV1,
    AddressV1,
    ClassificationV1,
    ItemUpdatedV1,
    MessageRefV1,
    deterministic_event_id,
    item_ref,
)
from postroom_shared.models import (
    BounceMark,
    Item,
    ItemType,
    Party,
    Person,
    StoredAttachment,
    ThreadMessage,
)
from postroom_shared.store import Store
from tests import factories
from tests.integration.item_owner import ItemOwner, item_owner
from tests.integration.replier_stack import fetch_mail, running_replier
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
AGENT = Person(id="usr_agent", kind="user", name="Bob Agent", emails=["bob@example.test"])
CUSTOMER = "customer@example.test"


@pytest.fixture
async def replier(stack: StackEnv, store_url: str) -> AsyncIterator[Replier]:
    async with running_replier(stack, store_url) as running:
        await factories.whole_store(running.store).put_person(AGENT)
        yield running


@pytest.fixture
async def owner(replier: Replier) -> AsyncIterator[ItemOwner]:
    async with item_owner(replier.settings, factories.whole_store(replier.store)) as running:
        yield running


async def _item(store: Store, **fields: object) -> Item:
    """An incident with a title no other test uses (mailboxes outlive a test's store), and the
    customer's first mail on its thread."""
    item = Item.model_validate(
        {
            "id": f"it_{uuid.uuid4().hex[:10]}",
            "item_type": ItemType.INCIDENT,
            "number": 40 + uuid.uuid4().int % 1000,
            "project": "Support",
            "account_id": "acc1",
            "title": f"Printer {uuid.uuid4().hex[:8]}",
            "status": "closed",
            "requester": Party(address=CUSTOMER),
            **fields,
        }
    )
    first = ThreadMessage(
        key=f"{item.id}/in-1",
        item_id=item.id,
        account_id="acc1",
        direction="in",
        message_id=f"<first.{item.id}@example.test>",
        subject=item.title,
        sender=Party(address=CUSTOMER),
    )
    await store.insert_item(item, first, [])
    return item


def _updated(item: Item, changes: tuple[str, ...], **fields: object) -> ItemUpdatedV1:
    """The owner's event for a change made by a command of Bob Agent (no mail involved)."""
    command_id = uuid.uuid4()
    return ItemUpdatedV1.model_validate(
        {
            "event_id": deterministic_event_id(str(command_id), "item.updated.v1"),
            "source": "converter",
            "correlation_id": f"cmd:{command_id}",
            "item": item_ref(item),
            "changes": changes,
            "actor": ActorV1(kind="user", id=AGENT.id, name=AGENT.name),
            "command_id": command_id,
            "version": 2,
            **fields,
        }
    )


def _parse(raw: bytes) -> Message:
    return email.message_from_bytes(raw)


def _quoted(text: str) -> str:
    return f'"{text}"'


def _payload(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


async def _add_reply(replier: Replier, item: Item, to: str, attachment: bytes) -> ThreadMessage:
    """The team reply as the owner stores it: signed Message-ID, threaded to the last inbound
    mail, the item token in the subject, keyed by its command."""
    store = factories.whole_store(replier.store)
    blob = await store.put_blob(attachment)
    reply = ThreadMessage(
        key=f"cmd:{uuid.uuid4()}",
        item_id=item.id,
        account_id="acc1",
        direction="out",
        kind="team_reply",
        message_id=replier.signer.make(item.id, uuid.uuid4().hex[:24], domain="example.test"),
        in_reply_to=[f"<first.{item.id}@example.test>"],
        references=[f"<first.{item.id}@example.test>"],
        subject=f"[{item.token}] Re: {item.title}",
        sender=Party(address="support@example.test", name="Support"),
        to=[Party(address=to)],
        text="We replaced the toner.\nPlease try again.",
        attachments=[
            StoredAttachment(
                filename="steps.txt",
                content_type="text/plain",
                size=len(attachment),
                sha256=blob.removeprefix("sha256:"),
                blob_ref=blob,
            )
        ],
    )
    await store.append_message(item.id, reply, [], add_participants=[])
    return reply


async def test_a_team_reply_reaches_the_customer_once_as_a_persons_mail(
    stack: StackEnv, replier: Replier, owner: ItemOwner
) -> None:
    store = factories.whole_store(replier.store)
    item = await _item(store, notify=["alice@example.test", CUSTOMER, "bob@example.test"])
    reply = await _add_reply(replier, item, CUSTOMER, b"1. open the tray\n")
    event = _updated(item, ("reply_added",), thread_key=reply.key)
    await replier.handle(event)
    await replier.handle(event)  # redelivered: the ledger sends nothing twice

    [raw] = await fetch_mail(stack, "customer", ("HEADER", "Message-ID", reply.message_id))
    mail = _parse(raw)
    assert mail["From"] == "Support <support@example.test>"
    assert mail["Subject"] == reply.subject  # as the owner chose it
    assert mail["In-Reply-To"] == f"<first.{item.id}@example.test>"
    assert mail["References"] == f"<first.{item.id}@example.test>"
    assert mail["Auto-Submitted"] is None and mail["Precedence"] is None
    assert mail["X-Postroom-Loop"] == "test"
    assert replier.signer.verify(mail["Message-ID"]) == item.id
    parts = {p.get_content_type(): _payload(p) for p in mail.walk() if not p.get_filename()}
    assert b"We replaced the toner." in parts["text/plain"]
    assert b"We replaced the toner.<br>" in parts["text/html"]
    files = [_payload(p) for p in mail.walk() if p.get_filename() == "steps.txt"]
    assert files == [b"1. open the tray\n"]

    # the notification list hears of it: not the customer (they got the reply), not Bob
    # (he wrote it), Alice once
    notes = await fetch_mail(stack, "alice", ("SUBJECT", _quoted(item.title)))
    assert len(notes) == 1 and "We replaced the toner." in notes[0].decode()
    assert (
        await fetch_mail(stack, "bob", ("SUBJECT", _quoted(item.title)), expect=0, wait_s=0) == []
    )
    customer_copies = await fetch_mail(stack, "customer", ("SUBJECT", _quoted(item.title)))
    assert len(customer_copies) == 1  # the reply itself, no notification besides
    # the thread holds the reply once: the owner's entry (no second one for its Message-ID)
    outbound = await owner.outbound(item.id, at_least=2)
    assert [m.message_id for m in outbound].count(reply.message_id) == 1
    log = {e.action: e.reason for e in await store.list_log(mail_key=event.correlation_id)}
    assert log["team_reply_sent"].startswith(CUSTOMER)
    assert "got the team reply itself" in log["notification_suppressed"] or (
        "made this change" in log["notification_suppressed"]
    )


async def test_a_status_change_notifies_the_list_but_not_its_actor(
    stack: StackEnv, replier: Replier, owner: ItemOwner
) -> None:
    store = factories.whole_store(replier.store)
    item = await _item(store, notify=["alice@example.test", "bob@example.test"])
    event = _updated(item, ("status",))
    await replier.handle(event)
    await replier.handle(event)  # redelivered: once per change

    [raw] = await fetch_mail(stack, "alice", ("SUBJECT", _quoted(item.title)))
    mail = _parse(raw)
    assert mail["Subject"] == f"Re: [{item.token}] {item.title}: closed"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert "Bob Agent changed" in raw.decode()
    assert (
        await fetch_mail(stack, "bob", ("SUBJECT", _quoted(item.title)), expect=0, wait_s=1) == []
    )
    reason = f"notification:status_changed:{event.command_id}"
    assert await store.get_ledger(item.id, reason, "bob@example.test") is None
    sent = await store.get_ledger(item.id, reason, "alice@example.test")
    assert sent is not None and sent.state == "sent"
    [entry] = await owner.outbound(item.id, at_least=1)
    assert entry.kind == "notification" and entry.to[0].address == "alice@example.test"
    # a change nobody is notified about (the assignee) sends nothing
    await replier.handle(_updated(item, ("assignee",)))
    assert len(await fetch_mail(stack, "alice", ("SUBJECT", _quoted(item.title)), wait_s=1)) == 1


async def test_a_bounced_address_gets_no_automatic_mail_but_the_teams_reply(
    stack: StackEnv, replier: Replier, owner: ItemOwner
) -> None:
    store = factories.whole_store(replier.store)
    mark = BounceMark(address=CUSTOMER, code="5.1.1", reason="user unknown")
    await store.put_person(
        Person(id="cus_1", kind="customer", emails=[CUSTOMER, "alice@example.test"], bounce=mark)
    )
    item = await _item(store, notify=[CUSTOMER, "alice@example.test"], notify_on_create=False)
    status = _updated(item, ("status",))
    await replier.handle(status)
    # the auto-reply to new mail from the bounced address is held back too
    mail_key = f"acc1/INBOX/5/{uuid.uuid4().hex[:8]}"
    created = factories.item_created(item, 1, CUSTOMER)
    created = created.model_copy(
        update={
            "message": MessageRefV1(
                mail_key=mail_key,
                message_id=f"<{uuid.uuid4().hex}@x.test>",
                subject=item.title,
                sender=AddressV1(address=CUSTOMER),
                classification=ClassificationV1(kind="normal", auto_submitted=False),
            )
        }
    )
    await replier.handle(created)

    # alice (same person, another address, no mark) still hears of the change
    assert len(await fetch_mail(stack, "alice", ("SUBJECT", _quoted(item.title)))) == 1
    log = [
        *await store.list_log(mail_key=status.correlation_id),
        *await store.list_log(mail_key=mail_key),
    ]
    held = {(e.action, e.reason) for e in log if "bounced_address" in e.reason}
    assert held == {
        (action, f"{CUSTOMER}: bounced_address: 5.1.1 user unknown (bounced {mark.at:%Y-%m-%d})")
        for action in ("notification_suppressed", "auto_reply_suppressed")
    }
    assert not [e for e in log if e.action.endswith("_sent") and CUSTOMER in e.reason]

    # a person asked for this one: it goes out, with a warning in the log
    reply = await _add_reply(replier, item, CUSTOMER, b"see attached\n")
    answer = _updated(item, ("reply_added",), thread_key=reply.key)
    await replier.handle(answer)
    assert await fetch_mail(stack, "customer", ("HEADER", "Message-ID", reply.message_id))
    actions = {e.action for e in await store.list_log(mail_key=answer.correlation_id)}
    assert {"team_reply_warning", "team_reply_sent"} <= actions
