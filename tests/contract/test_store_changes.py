"""Contract of `ItemChanger.apply_change` (the write of every item command), on SQLite and on
MongoDB: applied once per key, refused at a stale version, exactly one of concurrent writers
wins, and mail appends move the version too (so a command never overwrites a mail's change).
"""

import asyncio

import pytest

from postroom_shared.models import Item, ItemType, Party, ThreadMessage, utcnow
from postroom_shared.store import ItemChanges, OutboxEvent
from postroom_shared.store.ports import ItemStore


def _item() -> Item:
    return Item(
        id="it_c1",
        item_type=ItemType.INCIDENT,
        number=1,
        project="Support",
        account_id="acc1",
        title="Printer",
        requester=Party(address="cust@x.test"),
        message_count=1,
    )


def _msg(key: str, direction: str = "in") -> ThreadMessage:
    return ThreadMessage.model_validate(
        {"key": key, "item_id": "it_c1", "account_id": "acc1", "direction": direction}
    )


def _event(event_id: str) -> OutboxEvent:
    return OutboxEvent(event_id=event_id, routing_key="item.updated.v1", body='{"x": 1}')


async def _stored(store: ItemStore) -> Item:
    item = _item()
    assert await store.insert_item(item, _msg("k1"), [])
    got = await store.get_item(item.id)
    assert got is not None and got.version == 1
    return got


async def test_change_applied_once_with_message_and_event(store: ItemStore) -> None:
    item = await _stored(store)
    state = item.model_copy(update={"status": "closed", "version": 2})
    note = _msg("cmd:1", "note")

    async def apply(version: int) -> str:
        return await store.apply_change(
            item.id,
            expected_version=version,
            applied_key="cmd:1",
            new_state=state,
            message=note,
            events=[_event("e1")],
        )

    assert not await store.change_applied("cmd:1")
    assert await apply(1) == "applied"
    assert await apply(1) == "duplicate"
    # a repeat read at the new version is still the same command: applied once
    assert await apply(2) == "duplicate"
    got = await store.get_item(item.id)
    assert got is not None and (got.status, got.version) == ("closed", 2)
    assert await store.change_applied("cmd:1")
    assert [m.key for m in await store.list_messages(item.id)] == ["k1", "cmd:1"]
    assert [e.event_id for e in await store.pending_events()] == ["e1"]


async def test_stale_version_is_a_conflict_and_writes_nothing(store: ItemStore) -> None:
    item = await _stored(store)
    # a mail appended since the read moves the version on
    assert await store.append_message(
        item.id, _msg("k2"), [], add_participants=[], changes=ItemChanges(status="open")
    )
    state = item.model_copy(update={"status": "closed", "version": 2})
    result = await store.apply_change(
        item.id,
        expected_version=1,
        applied_key="cmd:2",
        new_state=state,
        message=_msg("cmd:2", "note"),
        events=[_event("e2")],
    )
    assert result == "conflict"
    got = await store.get_item(item.id)
    assert got is not None and (got.status, got.version, got.message_count) == ("open", 2, 2)
    assert not await store.change_applied("cmd:2")
    assert [m.key for m in await store.list_messages(item.id)] == ["k1", "k2"]
    assert await store.pending_events() == []


async def test_unknown_item_is_a_key_error(store: ItemStore) -> None:
    with pytest.raises(KeyError):
        await store.apply_change(
            "it_none",
            expected_version=1,
            applied_key="cmd:3",
            new_state=_item().model_copy(update={"id": "it_none"}),
            message=None,
            events=[],
        )


async def test_concurrent_writers_exactly_one_wins(store: ItemStore) -> None:
    item = await _stored(store)

    async def write(n: int) -> str:
        state = item.model_copy(update={"status": f"s{n}", "version": 2})
        return await store.apply_change(
            item.id,
            expected_version=1,
            applied_key=f"cmd:w{n}",
            new_state=state,
            message=_msg(f"cmd:w{n}", "note"),
            events=[_event(f"ew{n}")],
        )

    results = await asyncio.gather(*(write(n) for n in range(8)))
    assert sorted(results) == ["applied"] + ["conflict"] * 7
    winner = results.index("applied")
    got = await store.get_item(item.id)
    assert got is not None and (got.status, got.version) == (f"s{winner}", 2)
    assert [m.key for m in await store.list_messages(item.id)] == ["k1", f"cmd:w{winner}"]
    assert [e.event_id for e in await store.pending_events()] == [f"ew{winner}"]
    assert got.updated_at <= utcnow()
