"""The item commands on a real broker and both stores: the converter (the item's owner)
applies each once however often it arrives, answers with `item.updated.v1` naming the change,
the actor and the command, and parks a refused command in its queue's DLQ with the reason,
after announcing it with `item.command_rejected.v1`."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aio_pika.abc import AbstractChannel, AbstractQueue
from faststream.rabbit import RabbitBroker
from pydantic import SecretStr

from postroom_shared.contracts import (
    ActorV1,
    AddNoteV1,
    ChangeStatusV1,
    ItemCommandRejectedV1,
    ItemUpdatedV1,
)
from postroom_shared.messaging import publish_command
from postroom_shared.models import Workflow, WorkflowStep
from postroom_shared.retry import ERROR_HEADER, dead_letter_queue
from postroom_shared.runtime import make_broker
from postroom_shared.settings import CommonSettings
from postroom_shared.store import Store
from postroom_shared.topology import EVENTS, consumer_queue
from tests import factories
from tests.integration.item_owner import item_owner
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
ACTOR = ActorV1(kind="service", id="tracker-sync", name="Tracker")
STATUS_QUEUE = consumer_queue("converter", "item.change_status.v1").name


@pytest.fixture
def settings(stack: StackEnv, store_url: str) -> CommonSettings:
    return CommonSettings(
        store_url=store_url, broker_url=stack.amqp_url, secret_key=SecretStr("o" * 40)
    )


@pytest.fixture
async def broker(settings: CommonSettings) -> AsyncIterator[RabbitBroker]:
    opened = make_broker(settings)
    await opened.connect()
    yield opened
    await opened.stop()


async def _listen(channel: AbstractChannel, *routing_keys: str) -> AbstractQueue:
    """An exclusive queue of the test on the events exchange: what a subscriber receives."""
    queue = await channel.declare_queue(exclusive=True, auto_delete=True)
    for key in routing_keys:
        await queue.bind(EVENTS.name, routing_key=key)
    return queue


async def _take(queue: AbstractQueue, count: int, wait_s: float = 15.0) -> list[dict[str, Any]]:
    """`count` messages, then 1 s more to catch any extra one."""
    got: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + wait_s
    while loop.time() < end and (len(got) < count or loop.time() < end - wait_s + 1):
        message = await queue.get(fail=False)
        if message is None:
            if len(got) >= count:
                await asyncio.sleep(1.0)
                extra = await queue.get(fail=False)
                if extra is not None:
                    await extra.ack()
                    got.append(json.loads(extra.body))
                return got
            await asyncio.sleep(0.1)
            continue
        await message.ack()
        got.append(json.loads(message.body))
    return got


async def _with_workflow(store: Store) -> str:
    await store.put_workflow(
        Workflow(
            id="wf1",
            name="Desk",
            steps=[WorkflowStep(name="new"), WorkflowStep(name="closed", on_new_email="new")],
        )
    )
    item = await factories.stored_incident(store, 1, workflow_id="wf1", workflow_step="new")
    return item.id


async def test_commands_applied_once_and_announced_with_their_actor(
    settings: CommonSettings, store: Store, broker: RabbitBroker
) -> None:
    item_id = await _with_workflow(store)
    close = ChangeStatusV1(
        command_id=uuid.uuid4(),
        source="tracker-sync",
        item_id=item_id,
        actor=ACTOR,
        status="closed",
        workflow_step="closed",
        expected_version=1,
    )
    note = AddNoteV1(
        command_id=uuid.uuid4(), source="tracker-sync", item_id=item_id, actor=ACTOR, text="hi"
    )
    async with item_owner(settings, store) as owner:
        events = await _listen(owner.channel, "item.updated.v1")
        started = asyncio.get_running_loop().time()
        for command in (close, close, note, note):  # every command delivered twice
            await publish_command(broker, command)
        received = [ItemUpdatedV1.model_validate(body) for body in await _take(events, 2)]
        took = asyncio.get_running_loop().time() - started
    # at-least-once: a copy handled while the first was publishing may publish the same
    # event again; subscribers dedupe on event_id, so distinct events are what counts
    got = list({e.event_id: e for e in received}.values())
    assert sorted(e.changes for e in got) == [("note_added",), ("status", "workflow_step")]
    assert all(e.actor == ACTOR and e.message is None for e in got)
    assert {e.command_id for e in got} == {close.command_id, note.command_id}
    assert sorted(e.version or 0 for e in got) == [2, 3]
    item = await store.get_item(item_id)
    assert item is not None
    assert (item.status, item.workflow_step, item.version) == ("closed", "closed", 3)
    notes = [m for m in await store.list_messages(item_id) if m.direction == "note"]
    assert [(m.text, m.author_id) for m in notes] == [("hi", "tracker-sync")]
    [noted] = [e for e in got if e.changes == ("note_added",)]
    assert noted.thread_key == notes[0].key
    print(
        f"2 commands x 2 deliveries: 2 changes, {len(got)} events"
        f" ({len(received)} copies), settled in {took:.2f} s"
    )


async def test_a_refused_command_is_announced_and_parked_with_its_reason(
    settings: CommonSettings, store: Store, broker: RabbitBroker
) -> None:
    item_id = await _with_workflow(store)
    unknown = ChangeStatusV1(
        command_id=uuid.uuid4(), source="t", item_id=item_id, actor=ACTOR, status="done"
    )
    stale = ChangeStatusV1(
        command_id=uuid.uuid4(),
        source="t",
        item_id=item_id,
        actor=ACTOR,
        status="closed",
        expected_version=7,
    )
    async with item_owner(settings, store) as owner:
        rejected = await _listen(owner.channel, "item.command_rejected.v1")
        dlq = await owner.channel.declare_queue(dead_letter_queue(STATUS_QUEUE), passive=True)
        await dlq.purge()
        await publish_command(broker, unknown)
        await publish_command(broker, stale)
        events = [ItemCommandRejectedV1.model_validate(b) for b in await _take(rejected, 2)]
        parked = []
        for _ in range(100):
            message = await dlq.get(fail=False)
            if message is not None:
                await message.ack()
                parked.append(message)
            if len(parked) == 2:
                break
            await asyncio.sleep(0.1)
    by_id = {e.command_id: e for e in events}
    assert set(by_id) == {unknown.command_id, stale.command_id}
    assert "'done' is not a step of workflow 'Desk'" in by_id[unknown.command_id].reason
    assert not by_id[unknown.command_id].conflict
    assert by_id[stale.command_id].conflict and "version 1, not 7" in by_id[stale.command_id].reason
    assert all(e.actor == ACTOR and e.command_type == "item.change_status.v1" for e in events)
    reasons = {
        json.loads(m.body)["command_id"]: str((m.headers or {})[ERROR_HEADER]) for m in parked
    }
    assert "'done' is not a step" in reasons[str(unknown.command_id)]
    assert reasons[str(stale.command_id)].startswith("rejected: ")
    item = await store.get_item(item_id)
    assert item is not None and (item.status, item.version) == ("new", 1)
