"""Retries back off through delay queues on the real broker, counted by our own header: a store
outage is ridden out, a mail that keeps failing is quarantined after exactly the configured
tries, and it all ends on a queue where the broker counts nothing."""

import asyncio
import hashlib
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import pytest
from aio_pika import Message, connect_robust
from aio_pika.abc import AbstractChannel
from faststream import AckPolicy
from faststream.rabbit import RabbitBroker, RabbitMessage, RabbitQueue
from pydantic import BaseModel, SecretStr

from postroom_converter.app import register
from postroom_converter.settings import ConverterSettings
from postroom_shared.contracts import MailReceivedV1
from postroom_shared.errors import ConfigError
from postroom_shared.models import QuarantineEntry
from postroom_shared.runtime import make_broker
from postroom_shared.store import Store, open_store
from postroom_shared.topology import EVENTS, declare_topology
from tests import factories
from tests.integration.broker_faults import FlakyStore, take, wait_until
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
SECRET = "b" * 40
QUEUE = "converter.mail.received.v1"
ATTEMPT = "x-postroom-attempt"


@pytest.fixture
async def store(sqlite_url: str) -> AsyncIterator[Store]:
    opened = await open_store(sqlite_url)
    await opened.put_account(factories.account())
    yield opened
    await opened.close()


@pytest.fixture
async def channel(stack: StackEnv) -> AsyncIterator[AbstractChannel]:
    conn = await connect_robust(stack.amqp_url)
    yield await conn.channel()
    await conn.close()


def _event(*, missing_blob: bool = False) -> MailReceivedV1:
    mail = EmailMessage()
    mail["From"] = "customer@example.test"
    mail["To"] = "support@example.test"
    mail["Subject"] = "Printer"
    mail["Message-ID"] = f"<{uuid.uuid4().hex}@example.test>"
    mail.set_content("on fire")
    event = factories.mail_received(f"acc1/INBOX/7/{uuid.uuid4().int % 10**6}", mail.as_bytes())
    if not missing_blob:
        return event
    ref = f"sha256:{hashlib.sha256(event.raw_inline or b'').hexdigest()}"
    return event.model_copy(update={"raw_inline": None, "blob_ref": ref})


async def _converter(
    stack: StackEnv, store: Store, channel: AbstractChannel, **retry: Any
) -> RabbitBroker:
    """The converter as `python -m postroom_converter` wires it, on empty queues, started."""
    settings = ConverterSettings(
        store_url="sqlite:///unused",
        broker_url=stack.amqp_url,
        secret_key=SecretStr(SECRET),
        **retry,
    )
    broker = make_broker(settings)
    for loop in register(broker, store, settings):
        loop.close()  # the outbox relay loop is not under test here
    await broker.connect()
    await declare_topology(broker)
    for name in (QUEUE, f"{QUEUE}.dlq"):
        await (await channel.declare_queue(name, passive=True)).purge()
    await broker.start()
    return broker


async def _publish(broker: RabbitBroker, event: MailReceivedV1) -> None:
    await broker.publish(event, exchange=EVENTS, routing_key="mail.received.v1", persist=True)


async def test_a_store_outage_of_seconds_is_ridden_out_by_backoff(
    stack: StackEnv, store: Store, channel: AbstractChannel
) -> None:
    outage_s = 1.5
    down_until = time.monotonic() + 3600.0
    flaky = FlakyStore(
        store,
        "items_for_mails",  # the converter's first store call per mail (group commit)
        sqlite3.OperationalError("unable to open database file"),
        lambda: time.monotonic() < down_until,
    )
    broker = await _converter(
        stack, flaky.as_store(), channel, retry_attempts=6, retry_backoff_s=(0.25, 0.5, 1, 2, 4)
    )
    try:
        event = _event()
        down_until = time.monotonic() + outage_s
        await _publish(broker, event)
        items = await wait_until(lambda: factories.all_items(store), timeout_s=30)
        quarantined = [entry.reason for entry in await store.list_quarantine()]
        assert items, f"no item; tries {flaky.gaps()} s apart; quarantined: {quarantined}"
        print(f"store outage {outage_s} s: tries at {flaky.gaps()} s apart, item {items[0].token}")
        assert len(items) == 1
        assert len(flaky.calls) >= 3, "the outage must have failed some tries"
        assert flaky.calls[-1] - flaky.calls[0] >= outage_s
        assert await store.list_quarantine() == []
        assert await take(channel, f"{QUEUE}.dlq") == []
    finally:
        await broker.stop()


async def test_a_failing_mail_is_quarantined_after_exactly_the_configured_tries(
    stack: StackEnv, store: Store, channel: AbstractChannel
) -> None:
    # The mail references a blob the store does not have: every try fails the same way.
    flaky = FlakyStore(store, "get_blob", KeyError("no such blob"), lambda: True)
    steps = (0.3, 0.6, 1.2)
    broker = await _converter(
        stack, flaky.as_store(), channel, retry_attempts=4, retry_backoff_s=steps
    )
    try:
        event = _event(missing_blob=True)
        await _publish(broker, event)
        entries: list[QuarantineEntry] = await wait_until(store.list_quarantine, timeout_s=30)
        await asyncio.sleep(1.0)  # a fifth try would come now
        gaps = flaky.gaps()
        print(f"4 tries, gaps {gaps} s (steps {steps})")
        assert len(flaky.calls) == 4
        assert all(gap >= step * 0.9 for gap, step in zip(gaps, steps, strict=True)), gaps
        assert gaps == sorted(gaps)
        assert len(entries) == 1 and entries[0].mail_key == event.mail_key
        assert "failed repeatedly" in entries[0].reason and "no such blob" in entries[0].reason
        assert await take(channel, f"{QUEUE}.dlq") == []
    finally:
        await broker.stop()


async def test_a_permanent_error_skips_the_backoff_to_the_last_try(
    stack: StackEnv, store: Store, channel: AbstractChannel
) -> None:
    flaky = FlakyStore(store, "get_account", ConfigError("account acc1 is broken"), lambda: True)
    broker = await _converter(
        stack, flaky.as_store(), channel, retry_attempts=6, retry_backoff_s=(0.3, 5, 30)
    )
    try:
        await _publish(broker, _event())
        entries = await wait_until(store.list_quarantine, timeout_s=20)
        await asyncio.sleep(0.5)
        print(f"permanent error: {len(flaky.calls)} tries, gaps {flaky.gaps()} s")
        assert len(flaky.calls) == 2  # the first try, then straight to the last one
        assert "account acc1 is broken" in entries[0].reason
    finally:
        await broker.stop()


class Ping(BaseModel):
    n: int


async def test_our_header_ends_retries_where_the_broker_counts_nothing(
    stack: StackEnv, channel: AbstractChannel
) -> None:
    """A classic queue carries no x-delivery-count and has no delivery limit: like RabbitMQ
    4.3, where requeued nacks are not counted. The tries still end, by our header."""
    from postroom_shared.consumer import retrying, undecoded  # the thing under test
    from postroom_shared.retry import RetryPolicy
    from postroom_shared.topology import declare_retry_path

    name = f"test.classic.{uuid.uuid4().hex[:8]}"
    policy = RetryPolicy(attempts=3, backoff_s=(0.2, 0.4))
    settings = ConverterSettings(
        store_url="sqlite:///unused", broker_url=stack.amqp_url, secret_key=SecretStr(SECRET)
    )
    broker = make_broker(settings)
    seen: list[dict[str, Any]] = []
    handled: list[int] = []

    async def always_fails(ping: Ping, final_attempt: bool) -> None:
        handled.append(ping.n)
        raise RuntimeError(f"ping {ping.n} fails, final={final_attempt}")

    consume = retrying(broker, name, Ping, always_fails, policy)

    @broker.subscriber(
        RabbitQueue(name, durable=False),
        ack_policy=AckPolicy.NACK_ON_ERROR,
        decoder=undecoded,  # as `subscribe` registers it
    )
    async def observed(message: RabbitMessage) -> None:
        seen.append({**(message.raw_message.headers or {}), "_body": message.raw_message.body})
        await consume(message.raw_message)

    await broker.connect()
    await declare_retry_path(broker, name, policy)
    await broker.start()
    try:
        publish = channel.default_exchange.publish
        await publish(Message(b'{"n": 1}', content_type="application/json"), routing_key=name)
        dlq = f"{name}.dlq"
        parked = await take(channel, dlq, timeout_s=20)
        await asyncio.sleep(0.8)  # a fourth try would come now
        pings = [headers for headers in seen if headers["_body"] == b'{"n": 1}']
        print("deliveries:", [{k: v for k, v in h.items() if k.startswith("x-p")} for h in pings])
        assert [h.get(ATTEMPT, 1) for h in pings] == [1, 2, 3]
        assert all(not h.get("x-delivery-count") for h in pings)
        assert handled == [1, 1, 1]
        assert len(parked) == 1 and parked[0].body == b'{"n": 1}'
        assert parked[0].headers[ATTEMPT] == 3
        assert "failed 3 time(s)" in str(parked[0].headers["x-postroom-error"])

        # A body that is no valid message goes to the DLQ at once: no retry can fix it.
        await publish(Message(b"not json", content_type="application/json"), routing_key=name)
        junk = await take(channel, dlq, timeout_s=20)
        assert [m.body for m in junk] == [b"not json"]
        assert "not a valid Ping" in str(junk[0].headers["x-postroom-error"])
        assert handled == [1, 1, 1]
    finally:
        await broker.stop()
        for queue in (name, f"{name}.dlq", f"{name}.retry.200ms", f"{name}.retry.400ms"):
            await channel.queue_delete(queue)
