"""CPU per message of the plumbing every service shares, on a real RabbitMQ (issue 15, round 3).

    .venv/bin/python bench/bench_plumbing.py --amqp-url amqp://guest:guest@127.0.0.1:5672/
    .venv/bin/python bench/bench_plumbing.py --only log       # no broker needed

Three measurements, each the process's CPU time (user + system, all threads, so meaningful on
a busy machine) divided by the messages handled:

- consume: N messages waiting in a queue, consumed by `consumer.retrying` with a handler that
  does nothing, once through FastStream's whole subscriber path (context scope, middlewares,
  parser, decoder, call wrapper: how `subscribe` consumed until round 3) and once as
  `subscribe` does it now (`consumer.direct`);
- publish: N persistent, mandatory, confirmed publishes, 32 at a time, through
  `RabbitBroker.publish` (how `messaging.confirmed_publish` published until round 3) and
  through `confirmed_publish`;
- log: one `log.info` line with two bound fields and one of its own, written to /dev/null
  through the service's JSON handler (`logs.configure_logging`).
"""

import argparse
import asyncio
import logging
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pydantic import BaseModel  # noqa: E402

from postroom_shared.logs import bind, configure_logging, get_logger  # noqa: E402


class Ping(BaseModel):
    n: int


def cpu() -> float:
    return time.process_time()


async def consume_run(url: str, n: int, *, direct: bool) -> float:
    """CPU µs per message consumed."""
    from aio_pika import Message, connect_robust
    from faststream import AckPolicy
    from faststream.rabbit import RabbitMessage, RabbitQueue
    from pydantic import SecretStr

    from postroom_shared import consumer
    from postroom_shared.retry import RetryPolicy
    from postroom_shared.runtime import make_broker
    from postroom_shared.settings import CommonSettings

    name = f"bench.plumbing.{uuid.uuid4().hex[:8]}"
    connection = await connect_robust(url)
    channel = await connection.channel()
    await channel.declare_queue(name, durable=False)
    for start in range(0, n, 500):
        await asyncio.gather(
            *(
                channel.default_exchange.publish(Message(f'{{"n": {i}}}'.encode()), name)
                for i in range(start, min(n, start + 500))
            )
        )
    settings = CommonSettings(
        store_url="sqlite:///unused", broker_url=url, secret_key=SecretStr("b" * 40)
    )
    broker = make_broker(settings, prefetch=32)
    done = asyncio.Event()
    handled = 0

    async def handle(ping: Ping, final_attempt: bool) -> None:
        nonlocal handled
        handled += 1
        if handled == n:
            done.set()

    policy = RetryPolicy(attempts=1, backoff_s=(1.0,))
    queue = RabbitQueue(name, durable=False, declare=False)
    if direct:
        consumer.subscribe(broker, queue, None, Ping, handle, policy)
    else:
        body = consumer.retrying(broker, name, Ping, handle, policy)

        @broker.subscriber(queue, ack_policy=AckPolicy.NACK_ON_ERROR, decoder=consumer.undecoded)
        async def through_faststream(message: RabbitMessage) -> None:
            await body(message.raw_message)

    await broker.connect()
    began = cpu()
    await broker.start()
    await asyncio.wait_for(done.wait(), timeout=300)
    used = cpu() - began
    await broker.stop()
    await channel.queue_delete(name)
    await connection.close()
    return used / n * 1e6


async def publish_run(url: str, n: int, *, direct: bool) -> float:
    """CPU µs per confirmed publish."""
    from faststream.rabbit import RabbitExchange, RabbitQueue
    from pydantic import SecretStr

    from postroom_shared.messaging import confirmed_publish
    from postroom_shared.runtime import make_broker
    from postroom_shared.settings import CommonSettings

    settings = CommonSettings(
        store_url="sqlite:///unused", broker_url=url, secret_key=SecretStr("b" * 40)
    )
    broker = make_broker(settings)
    await broker.connect()
    name = f"bench.plumbing.{uuid.uuid4().hex[:8]}"
    exchange = RabbitExchange(name, durable=False, auto_delete=True)
    declared = await broker.declare_exchange(exchange)
    queue = await broker.declare_queue(RabbitQueue(name, durable=False))
    await queue.bind(declared, routing_key="k")
    body = b'{"event_id": "x", "type": "bench", "payload": {"n": 1}}'

    async def through_faststream(i: int) -> None:  # confirmed_publish before round 3
        await broker.publish(
            body,
            exchange=exchange,
            routing_key="k",
            persist=True,
            mandatory=True,
            timeout=30.0,
            headers=None,
            content_type="application/json",
            message_id=str(i),
            correlation_id="c",
            message_type="bench",
        )

    async def confirmed(i: int) -> None:
        await confirmed_publish(
            broker,
            body,
            exchange=exchange,
            routing_key="k",
            message_id=str(i),
            correlation_id="c",
            message_type="bench",
        )

    publish: Callable[[int], Awaitable[None]] = confirmed if direct else through_faststream
    await publish(0)  # the exchange object is cached from here on
    began = cpu()
    for start in range(0, n, 32):
        await asyncio.gather(*(publish(i) for i in range(start, min(n, start + 32))))
    used = cpu() - began
    await queue.delete(if_unused=False, if_empty=False)
    await broker.stop()
    return used / n * 1e6


def log_run(n: int) -> float:
    """CPU µs per log line."""
    configure_logging("bench", "INFO")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(open(os.devnull, "w"))  # noqa: SIM115  # lives as long as the process
    log = get_logger("postroom_converter.service")
    began = cpu()
    with bind(queue="converter.mail.received.v1", attempt=1, message_id="m-1"):
        for _ in range(n):
            log.info("mail converted", outcome="created item 123")
    return (cpu() - began) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--only", choices=("consume", "publish", "log"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    results: dict[str, Any] = {}
    if args.only in (None, "consume"):
        for direct in (False, True) * 3:
            key = "consume " + ("direct" if direct else "faststream")
            us = asyncio.run(consume_run(args.amqp_url, args.messages, direct=direct))
            results.setdefault(key, []).append(round(us, 1))
    if args.only in (None, "publish"):
        for direct in (False, True) * 3:
            key = "publish " + ("confirmed_publish" if direct else "broker.publish")
            us = asyncio.run(publish_run(args.amqp_url, args.messages, direct=direct))
            results.setdefault(key, []).append(round(us, 1))
    if args.only in (None, "log"):
        results["log line"] = [round(log_run(20000), 1) for _ in range(2)]
    for key, values in results.items():
        print(f"{key:32} CPU µs per message: {' '.join(str(v) for v in values)}")


if __name__ == "__main__":
    main()
