"""The converter on a real broker: idempotent under redelivery and crashes, poison to the DLQ."""

import asyncio
import hashlib
import subprocess
import uuid
from collections.abc import AsyncIterator, Sequence
from email.message import EmailMessage

import pytest
from aio_pika import ExchangeType, Message, connect_robust
from aio_pika.abc import AbstractChannel, AbstractQueue
from faststream.rabbit import RabbitBroker
from pydantic import SecretStr

from postroom_converter.app import register
from postroom_converter.domain.outcome import Created, Duplicate
from postroom_converter.service import Converter
from postroom_converter.settings import ConverterSettings
from postroom_shared.contracts import MailReceivedV1, deterministic_event_id
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.models import EmailAccount, MailboxSettings, QuarantineEntry
from postroom_shared.runtime import make_broker
from postroom_shared.store import Store, open_store
from postroom_shared.store.ports import MailWrite, WriteResult
from postroom_shared.topology import DELIVERY_LIMIT, EVENTS, declare_topology
from tests import factories
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
SECRET = "c" * 40


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await open_store(store_url)
    await opened.put_account(
        EmailAccount(
            id="acc1",
            name="Support",
            address="support@example.test",
            project="Support",
            mailbox=MailboxSettings(host="h", port=1, username="support@example.test"),
        )
    )
    yield opened
    await opened.close()


@pytest.fixture
async def channel(stack: StackEnv) -> AsyncIterator[AbstractChannel]:
    conn = await connect_robust(stack.amqp_url)
    yield await conn.channel()
    await conn.close()


async def _tap(channel: AbstractChannel, routing_key: str) -> AbstractQueue:
    exchange = await channel.declare_exchange(EVENTS.name, ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key=routing_key)
    return queue


async def _drain(queue: AbstractQueue, wait_s: float = 2.0) -> list[bytes]:
    bodies = []
    while (message := await queue.get(timeout=wait_s, fail=False)) is not None:
        await message.ack()
        bodies.append(message.body)
    return bodies


def _event(n: int = 1) -> MailReceivedV1:
    mail = EmailMessage()
    mail["From"] = "Casey <customer@example.test>"
    mail["To"] = "support@example.test"
    mail["Subject"] = "Printer"
    mail["Message-ID"] = f"<{uuid.uuid4().hex}@example.test>"
    mail.set_content("on fire")
    return factories.mail_received(f"acc1/INBOX/7/{n}", mail.as_bytes())


async def _connected(stack: StackEnv) -> RabbitBroker:
    settings = ConverterSettings(
        store_url="sqlite:///unused", broker_url=stack.amqp_url, secret_key=SecretStr(SECRET)
    )
    broker = make_broker(settings)
    await broker.connect()
    await declare_topology(broker)
    return broker


async def _subscribed(
    stack: StackEnv, store: Store, store_url: str, channel: AbstractChannel
) -> tuple[RabbitBroker, AbstractQueue]:
    """A converter subscribed as in production (not started yet), on empty queues; its DLQ.
    Its retries wait 0.1-0.4 s instead of seconds to minutes."""
    settings = ConverterSettings(
        store_url=store_url,
        broker_url=stack.amqp_url,
        secret_key=SecretStr(SECRET),
        retry_backoff_s=(0.1, 0.2, 0.4),
    )
    broker = make_broker(settings)
    for loop in register(broker, store, settings):
        loop.close()  # the outbox relay loop is not under test here
    await broker.connect()
    await declare_topology(broker)
    dlq = await channel.declare_queue("converter.mail.received.v1.dlq", passive=True)
    await dlq.purge()
    await (await channel.declare_queue("converter.mail.received.v1", passive=True)).purge()
    return broker, dlq


async def test_redelivery_gives_one_item_and_one_event(
    stack: StackEnv, store: Store, channel: AbstractChannel
) -> None:
    tap = await _tap(channel, "item.#")
    broker = await _connected(stack)
    try:
        converter = Converter(store=store, broker=broker, signer=MessageIdSigner.checking(SECRET))
        event = _event()
        assert await converter.handle(event) == Created("INC-1", "no thread match: new item")
        assert isinstance(await converter.handle(event), Duplicate)
        bodies = await _drain(tap)
        assert len(bodies) == 1
        assert str(deterministic_event_id(event.mail_key, "item.created.v1")).encode() in bodies[0]
        assert len(await factories.all_items(store)) == 1
    finally:
        await broker.stop()


async def test_crash_between_store_write_and_publish_loses_nothing(
    stack: StackEnv, store: Store, channel: AbstractChannel
) -> None:
    tap = await _tap(channel, "item.created.v1")
    event = _event(2)
    # First attempt: the store write succeeds, the publish fails (no broker connection).
    offline = Converter(
        store=store, broker=RabbitBroker(stack.amqp_url), signer=MessageIdSigner.checking(SECRET)
    )
    with pytest.raises(Exception):  # noqa: B017,PT011 - whatever the client raises when offline
        await offline.handle(event)
    assert len(await store.pending_events()) == 1
    # Redelivery: nothing is applied twice, the pending event goes out exactly once.
    broker = await _connected(stack)
    try:
        online = Converter(store=store, broker=broker, signer=MessageIdSigner.checking(SECRET))
        assert isinstance(await online.handle(event), Duplicate)
        assert len(await _drain(tap)) == 1
        assert await store.pending_events() == []
        assert len(await factories.all_items(store)) == 1
    finally:
        await broker.stop()


async def test_poison_message_ends_in_the_dead_letter_queue(
    stack: StackEnv, store: Store, store_url: str, channel: AbstractChannel
) -> None:
    broker, dlq = await _subscribed(stack, store, store_url, channel)
    await broker.start()
    try:
        marker = uuid.uuid4().hex.encode()
        exchange = await channel.get_exchange(EVENTS.name)
        await exchange.publish(Message(b"not json " + marker), routing_key="mail.received.v1")

        async def dead_lettered() -> bytes:
            while (message := await dlq.get(timeout=5, fail=False)) is None:  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            await message.ack()
            return message.body

        body = await asyncio.wait_for(dead_lettered(), timeout=30)
        assert marker in body
    finally:
        await broker.stop()


def test_queues_are_durable_quorum_with_dead_letter_paths(stack: StackEnv) -> None:
    env_file = stack.state_dir / "stack" / "rabbitmq" / "env.sh"
    listing = subprocess.run(
        ["bash", "-c", f". {env_file} && rabbitmqctl -q list_queues name type durable arguments"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = {line.split("\t")[0]: line for line in listing.splitlines() if "\t" in line}
    for name in (
        "converter.mail.received.v1",
        "replier.item.created.v1",
        "replier.item.updated.v1",
    ):
        assert name in rows, listing
        assert "\tquorum\ttrue\t" in rows[name]
        assert "postroom.dlx" in rows[name] and "x-delivery-limit" in rows[name]
        assert str(DELIVERY_LIMIT) in rows[name]
        assert f"{name}.dlq" in rows and "\tquorum\ttrue\t" in rows[f"{name}.dlq"]


async def test_failing_mail_is_quarantined_not_dead_lettered_and_can_be_reprocessed(
    stack: StackEnv, store: Store, store_url: str, channel: AbstractChannel
) -> None:
    broker, dlq = await _subscribed(stack, store, store_url, channel)
    quarantined_tap = await _tap(channel, "mail.quarantined.v1")
    # The raw mail is referenced by a blob the store does not have (yet): every attempt fails.
    inline = _event(9)
    raw = inline.raw_inline or b""
    missing = f"sha256:{hashlib.sha256(raw).hexdigest()}"
    event = inline.model_copy(update={"raw_inline": None, "blob_ref": missing})
    await broker.start()
    try:
        await broker.publish(event, exchange=EVENTS, routing_key="mail.received.v1", persist=True)

        async def quarantined() -> QuarantineEntry:
            while not (entries := await store.list_quarantine()):  # noqa: ASYNC110
                await asyncio.sleep(0.2)
            return entries[0]

        entry = await asyncio.wait_for(quarantined(), timeout=30)
        assert entry.mail_key == event.mail_key and "KeyError" in entry.reason
        assert len(await _drain(quarantined_tap)) == 1
        assert await dlq.get(timeout=2, fail=False) is None, "quarantined mail must not be DLQ'd"
        log = await store.list_log(mail_key=event.mail_key)
        assert [e.action for e in log] == ["quarantined"]

        # The cause is fixed (the blob arrives); reprocessing creates the item.
        assert await store.put_blob(raw) == missing
        converter = Converter(store=store, broker=broker, signer=MessageIdSigner.checking(SECRET))
        assert isinstance(await converter.reprocess(entry.id), Created)
        assert await store.list_quarantine() == []
        assert {e.action for e in await store.list_log(mail_key=event.mail_key)} == {
            "quarantined",
            "created",
        }
    finally:
        await broker.stop()


async def test_the_raw_mail_is_stored_with_its_item(
    stack: StackEnv, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An inline mail's bytes go with the item's write (one transaction on SQLite), not in a
    # store call of their own before it; the thread message names them.
    calls: list[bytes] = []  # put_blob called by the converter itself, not by write_mails
    writing = False
    stored, write_mails = store.put_blob, store.write_mails

    async def counted(data: bytes) -> str:
        calls.extend([] if writing else [data])
        return await stored(data)

    async def marked(writes: Sequence[MailWrite]) -> list[WriteResult]:
        nonlocal writing
        writing = True
        try:
            return await write_mails(writes)
        finally:
            writing = False

    monkeypatch.setattr(store, "put_blob", counted)
    monkeypatch.setattr(store, "write_mails", marked)
    broker = await _connected(stack)
    try:
        converter = Converter(store=store, broker=broker, signer=MessageIdSigner.checking(SECRET))
        event = _event(5)
        outcome = await converter.handle(event)
    finally:
        await broker.stop()
    assert isinstance(outcome, Created) and calls == []
    [item] = await factories.all_items(store)
    [message] = await store.list_messages(item.id)
    assert event.raw_inline is not None and message.blob_ref is not None
    assert await store.get_blob(message.blob_ref) == event.raw_inline
