"""A consumer works on as many messages at once as its prefetch allows, on the real broker.

The converter's and the replier's handlers wait for store writes and publisher confirms most of
the time; with one message at a time those waits would add up per mail. aiormq starts a task
per delivery, so `subscribe` handles up to `prefetch` messages concurrently, and never more
(the broker holds the rest back until one is acked).
"""

import asyncio
import uuid

import pytest
from aio_pika import Message, connect_robust
from faststream.rabbit import RabbitQueue
from pydantic import BaseModel, SecretStr

from postroom_shared.consumer import subscribe
from postroom_shared.retry import RetryPolicy
from postroom_shared.runtime import make_broker
from postroom_shared.settings import CommonSettings
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
PREFETCH = 4


class Ping(BaseModel):
    n: int


async def test_a_consumer_handles_up_to_its_prefetch_at_once(stack: StackEnv) -> None:
    name = f"test.concurrency.{uuid.uuid4().hex[:8]}"
    settings = CommonSettings(
        store_url="sqlite:///unused", broker_url=stack.amqp_url, secret_key=SecretStr("c" * 40)
    )
    broker = make_broker(settings, prefetch=PREFETCH)
    # Every handler waits until PREFETCH of them are running: one at a time would never get
    # past the first.
    together = asyncio.Barrier(PREFETCH)
    running: list[int] = []
    most = 0
    handled: list[int] = []
    all_handled = asyncio.Event()

    async def handle(ping: Ping, final_attempt: bool) -> None:
        nonlocal most
        running.append(ping.n)
        most = max(most, len(running))
        await asyncio.wait_for(together.wait(), timeout=10)
        await asyncio.sleep(0.05)
        running.remove(ping.n)
        handled.append(ping.n)
        if len(handled) == 3 * PREFETCH:
            all_handled.set()

    queue = RabbitQueue(name, durable=False)
    subscribe(broker, queue, None, Ping, handle, RetryPolicy(attempts=1, backoff_s=(1.0,)))
    await broker.start()
    connection = await connect_robust(stack.amqp_url)
    channel = await connection.channel()
    try:
        for n in range(3 * PREFETCH):
            body = f'{{"n": {n}}}'.encode()
            await channel.default_exchange.publish(Message(body), routing_key=name)
        await asyncio.wait_for(all_handled.wait(), timeout=30)
        assert sorted(handled) == list(range(3 * PREFETCH))
        assert most == PREFETCH, f"at most {most} handlers ran at once, prefetch {PREFETCH}"
    finally:
        await broker.stop()
        await channel.queue_delete(name)
        await connection.close()
