"""POSTROOM_BROKER_URL with an address where nobody listens first: the services' broker and the
admin connection skip it at once and work on the next one (the session stack's RabbitMQ). The
move after a node dies is tests/e2e/test_broker_cluster.py, on a real cluster."""

import asyncio
import time
import uuid

import pytest
from aio_pika.abc import AbstractChannel
from aiormq.exceptions import ChannelInvalidStateError
from faststream.rabbit import ExchangeType, RabbitExchange, RabbitQueue
from pydantic import SecretStr

from postroom_shared.broker_admin import BrokerAdmin
from postroom_shared.errors import TransientError
from postroom_shared.messaging import confirmed_publish
from postroom_shared.runtime import connect_with_retry, make_broker
from postroom_shared.settings import CommonSettings
from postroom_shared.topology import EVENTS, declare_topology
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack


def dead_then_live(stack: StackEnv) -> str:
    """Three addresses where nobody listens, then the stack's RabbitMQ."""
    dead = [f"amqp://guest:guest@127.0.0.1:{stack.base + port}/" for port in (996, 997, 998)]
    return ",".join([*dead, stack.amqp_url])


async def test_the_broker_skips_a_dead_address_at_once_and_publishes_on_the_next(
    stack: StackEnv, sqlite_url: str
) -> None:
    settings = CommonSettings(
        store_url=sqlite_url, broker_url=dead_then_live(stack), secret_key=SecretStr("d" * 40)
    )
    broker = make_broker(settings)
    started = time.monotonic()
    await connect_with_retry(broker, deadline_s=10)
    try:
        # no back-off between the addresses (one after each would be 0.5 + 1 + 2 s)
        assert time.monotonic() - started < 3.0
        assert broker.address == f"amqp://guest:***@127.0.0.1:{stack.amqp_port}/"
        await declare_topology(broker)
        await confirmed_publish(broker, b"{}", exchange=EVENTS, routing_key="x.nobody.v1",
                                mandatory=False)  # fmt: skip
    finally:
        await broker.stop()


async def test_the_admin_connection_reads_depths_through_the_next_address(
    stack: StackEnv,
) -> None:
    admin = BrokerAdmin(dead_then_live(stack))
    try:
        depths = await admin.depths(["converter.mail.received.v1", "no.such.queue"])
        assert set(depths) == {"converter.mail.received.v1"}
        assert admin.ring.current == stack.amqp_url
        await admin.depths(["converter.mail.received.v1"])
        assert admin.connections_opened == 1  # kept, on the address that answered
    finally:
        await admin.close()


async def test_a_nacked_publish_renews_the_channel_and_the_next_publish_goes_through(
    stack: StackEnv, sqlite_url: str
) -> None:
    """The broker nacks a publish to a full reject-publish queue; the broker's channel is
    replaced (RabbitMQ 3.10 can nack a channel's publishes to a quorum queue for good after a
    node died: `ClusterBroker.renew_channel`), and works at once."""
    settings = CommonSettings(
        store_url=sqlite_url, broker_url=stack.amqp_url, secret_key=SecretStr("n" * 40)
    )
    broker = make_broker(settings)
    await connect_with_retry(broker, deadline_s=10)
    name = f"pr-nack-{uuid.uuid4().hex[:8]}"
    exchange = RabbitExchange(name, type=ExchangeType.DIRECT, auto_delete=True)
    full = RabbitQueue(name, arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    declared = await broker.declare_queue(full)
    try:
        await declared.bind(await broker.declare_exchange(exchange), routing_key="full")
        channel = await broker.config.channel_manager.get_channel()
        first = await channel.get_underlay_channel()
        await confirmed_publish(broker, b"1", exchange=exchange, routing_key="full")
        with pytest.raises(TransientError, match="nack"):
            await confirmed_publish(broker, b"2", exchange=exchange, routing_key="full")
        assert first.is_closed
        for _ in range(200):  # aio-pika opens it again by itself, within 10 s
            if (second := await reopened(channel)) is not None:
                break
            await asyncio.sleep(0.05)
        assert second is not None and second is not first
        await declared.purge()  # room again
        await confirmed_publish(broker, b"3", exchange=exchange, routing_key="full")
    finally:
        await declared.delete(if_unused=False, if_empty=False)
        await broker.stop()


async def reopened(channel: AbstractChannel) -> object | None:
    try:
        underlay = await channel.get_underlay_channel()
    except ChannelInvalidStateError:
        return None
    return None if underlay.is_closed else underlay
