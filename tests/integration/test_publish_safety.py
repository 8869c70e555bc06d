"""A publish the broker did not really take never lets the fetcher delete mail: a message
returned for want of a binding, or a confirm that does not come (the broker frozen), fails
the fetch in bounded time; the mail stays in Dovecot and flows once the broker is right."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from aio_pika import connect_robust
from aio_pika.abc import AbstractChannel

from postroom_fetcher.service import Fetcher
from postroom_shared.errors import TransientError
from postroom_shared.messaging import publish_raw
from postroom_shared.models import EmailAccount
from postroom_shared.runtime import make_broker
from postroom_shared.store import Store
from postroom_shared.topology import EVENTS, declare_topology
from tests.integration.broker_faults import frozen_broker
from tests.integration.fetcher_helpers import BOX, account, imap, mail, new_folder, settings
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
CONVERTER_QUEUE = "converter.mail.received.v1"


@pytest.fixture
async def channel(stack: StackEnv) -> AsyncIterator[AbstractChannel]:
    conn = await connect_robust(stack.amqp_url)
    yield await conn.channel()
    await conn.close()


async def _fetcher(
    stack: StackEnv, store: Store, sqlite_url: str, **extra: float
) -> tuple[Fetcher, EmailAccount, str]:
    """A fetcher on its own connected broker, and an account with one mail in a new folder."""
    folder = new_folder(stack, "bob", mail(f"keep me {uuid.uuid4().hex[:6]}"))
    acc = account(stack, user="bob", folder=folder)
    await store.put_account(acc)
    fetcher_settings = settings(stack, sqlite_url, **extra)
    broker = make_broker(fetcher_settings)
    await broker.connect()
    await declare_topology(broker)
    return Fetcher(store=store, broker=broker, secrets=BOX, settings=fetcher_settings), acc, folder


def _in_mailbox(stack: StackEnv, folder: str) -> int:
    with imap(stack, "bob") as client:
        client.select_folder(folder)
        return len(client.search(["ALL"]))


async def test_a_returned_publish_fails_the_fetch_and_deletes_nothing(
    stack: StackEnv, sqlite_store: Store, sqlite_url: str, channel: AbstractChannel
) -> None:
    fetcher, acc, folder = await _fetcher(stack, sqlite_store, sqlite_url)
    queue = await channel.declare_queue(CONVERTER_QUEUE, passive=True)
    exchange = await channel.get_exchange(EVENTS.name)
    await queue.unbind(exchange, routing_key="mail.received.v1")  # the converter's binding gone
    try:
        with pytest.raises(TransientError, match=r"returned mail\.received\.v1 \(NO_ROUTE\)"):
            await fetcher.poll_once(acc)
        assert _in_mailbox(stack, folder) == 1
        assert await sqlite_store.get_checkpoint(acc.id, folder) is None
    finally:
        await queue.bind(exchange, routing_key="mail.received.v1")
    try:
        assert await fetcher.poll_once(acc) == 1
        assert _in_mailbox(stack, folder) == 0
        checkpoint = await sqlite_store.get_checkpoint(acc.id, folder)
        assert checkpoint is not None and checkpoint.last_uid == 1
        # Events nobody inside Postroom consumes stay optional: unrouted is fine for them.
        await publish_raw(fetcher.broker, "test.nobody.listens.v1", "{}", str(uuid.uuid4()))
    finally:
        await fetcher.broker.stop()


async def test_a_broker_that_stops_confirming_fails_the_fetch_in_bounded_time(
    stack: StackEnv, sqlite_store: Store, sqlite_url: str
) -> None:
    fetcher, acc, folder = await _fetcher(stack, sqlite_store, sqlite_url, publish_timeout_s=1.0)
    try:
        started = time.monotonic()
        with frozen_broker(stack), pytest.raises(TransientError, match="did not confirm"):
            async with asyncio.timeout(20):  # without a publish timeout: stuck until here
                await fetcher.poll_once(acc)
        took = time.monotonic() - started
        print(f"frozen broker: the fetch failed after {took:.2f} s (publish timeout 1 s)")
        assert took < 8
        assert _in_mailbox(stack, folder) == 1
        assert await sqlite_store.get_checkpoint(acc.id, folder) is None

        # Thawed: the next fetch publishes (a second copy, perhaps: the converter dedupes).
        assert await fetcher.broker.ping(timeout=10)
        assert await fetcher.poll_once(acc) == 1
        assert _in_mailbox(stack, folder) == 0
    finally:
        await fetcher.broker.stop()
