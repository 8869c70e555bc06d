"""A subscriber of Postroom's events for end-to-end tests, as another service would be one:
its own durable queue bound to `postroom.events`, read with basic.get so a synchronous test
can poll it between steps (the queue keeps what arrives meanwhile). And an integration's
command, published to `postroom.commands` with any AMQP client (aio-pika here); and the
configuration hint a test sends after writing configuration into the store itself."""

import asyncio
import json
from typing import Any

import aio_pika
from faststream.rabbit import RabbitBroker

from postroom_shared.config_hints import announce
from postroom_shared.contracts import ItemCommand
from postroom_shared.topology import COMMANDS, EVENTS

__all__ = ["EventTap", "announce_config", "publish_raw_command"]


class EventTap:
    """A queue `name` bound to the events exchange for `patterns`; `drain()` adds whatever
    arrived since the last call to `events` (the parsed JSON bodies, in arrival order)."""

    def __init__(self, amqp_url: str, name: str, *patterns: str) -> None:
        self.amqp_url, self.name, self.patterns = amqp_url, name, patterns
        self.events: list[dict[str, Any]] = []

    def bind(self) -> "EventTap":
        asyncio.run(self._bind())
        return self

    async def _bind(self) -> None:
        async with await aio_pika.connect(self.amqp_url, timeout=10) as connection:
            channel = await connection.channel()
            exchange = await channel.get_exchange(EVENTS.name)  # the services declared it
            queue = await channel.declare_queue(self.name, durable=True)
            for pattern in self.patterns:
                await queue.bind(exchange, routing_key=pattern)

    def drain(self) -> list[dict[str, Any]]:
        self.events.extend(asyncio.run(self._drain()))
        return self.events

    async def _drain(self) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        async with await aio_pika.connect(self.amqp_url, timeout=10) as connection:
            channel = await connection.channel()
            queue = await channel.get_queue(self.name)
            while (message := await queue.get(no_ack=True, fail=False)) is not None:
                got.append(json.loads(message.body))
        return got

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.drain() if e.get("type") == event_type]


def publish_raw_command(amqp_url: str, command: ItemCommand) -> None:
    """What an integration does: the command's JSON, persistent, to the commands exchange with
    its type as the routing key, confirmed by the broker and returned if nothing takes it."""

    async def publish() -> None:
        async with await aio_pika.connect(amqp_url, timeout=10) as connection:
            channel = await connection.channel()  # publisher confirms
            exchange = await channel.get_exchange(COMMANDS.name)
            message = aio_pika.Message(
                command.model_dump_json().encode(),
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=str(command.command_id),
                type=command.type,
            )
            await exchange.publish(message, routing_key=command.type, mandatory=True)

    asyncio.run(publish())


async def announce_config(amqp_url: str, what: str, ident: str | None = None) -> None:
    """What the API does after every configuration write: a test that changes configuration in
    the store directly says so too, or the services keep their cached copy until its TTL
    (docs/architecture.md, "Configuration changes reach every replica at once")."""
    broker = RabbitBroker(amqp_url, logger=None)
    await broker.connect()
    try:
        await announce(broker, what, ident)
    finally:
        await broker.stop()
