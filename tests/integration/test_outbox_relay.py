"""The converter's periodic outbox relay publishes what was left over, not what is in flight:
an event is relayed only when the previous pass found it pending too. Every converter replica
runs a relay, and each used to publish every other replica's just-written events a second time
(tests/integration/test_replicas.py counted them)."""

import uuid

import pytest

from postroom_shared.messaging import OutboxRelay
from postroom_shared.models import Item, ItemType
from postroom_shared.store import Store
from postroom_shared.store.ports import OutboxEvent
from tests import factories
from tests.integration.fetcher_helpers import broker_and_tap
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack


def _event(routing_key: str, n: int) -> OutboxEvent:
    return OutboxEvent(event_id=uuid.uuid4().hex, routing_key=routing_key, body=f'{{"n": {n}}}')


async def test_the_relay_publishes_only_events_left_over_for_a_whole_pass(
    stack: StackEnv, store: Store, store_url: str
) -> None:
    key = f"test.relay.{uuid.uuid4().hex[:8]}"  # nobody else's events reach the tap
    left = _event(key, 1)
    item = Item(
        id="it_relay", item_type=ItemType.INCIDENT, number=1, project="Support",
        account_id="acc1", title="Printer",
    )  # fmt: skip
    await store.insert_item(item, factories.thread_message(item.id), [left])
    async with broker_and_tap(stack, store_url, key) as (broker, tap):
        relay = OutboxRelay(broker, store)
        assert await relay.relay() == 0  # first seen: its writer may be publishing it now

        # another replica writes an event and publishes and clears it itself meanwhile
        in_flight = _event(key, 2)
        message = factories.thread_message(item.id, "in-2")
        assert await store.append_message(item.id, message, [in_flight], add_participants=[])
        assert await relay.relay() == 1  # `left` was there a whole pass; `in_flight` is new
        await store.mark_published(in_flight.event_id)
        assert await relay.relay() == 0
        published = await tap.collect(key, 1, timeout_s=5, settle_s=1.0)
    assert published == [left.body.encode()]
    assert await store.pending_events() == []
