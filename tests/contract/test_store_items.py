"""Contract of the items port (item numbers, items, thread messages, item queries, the outbox), on
SQLite and on MongoDB.

Every test runs on both adapters (the `store` fixture, tests/conftest.py); MongoDB is the
mongoeco wire server unless POSTROOM_TEST_MONGODB_URL names a real one.
"""

import asyncio
from datetime import timedelta

import pytest

from postroom_shared.models import (
    Item,
    ItemType,
    Party,
    ProcessingLogEntry,
    ThreadMessage,
    utcnow,
)
from postroom_shared.store import ItemChanges, ItemQuery, OutboxEvent, Store
from postroom_shared.store.ports import ItemStore


def _item(key: str, number: int, participants: list[str] | None = None) -> Item:
    return Item(
        id=f"it_{key}",
        item_type=ItemType.INCIDENT,
        number=number,
        project="Support",
        account_id="acc1",
        title=f"title {key}",
        participants=participants or [],
        requester=Party(address="cust@x.test"),
        message_count=1,
    )


def _msg(key: str, item_id: str, message_id: str = "") -> ThreadMessage:
    return ThreadMessage(
        key=key,
        item_id=item_id,
        account_id="acc1",
        direction="in",
        message_id=message_id or f"<{key}@x.test>",
        subject="s",
        text="t",
    )


def _event(event_id: str) -> OutboxEvent:
    return OutboxEvent(event_id=event_id, routing_key="item.created.v1", body='{"x": 1}')


async def test_item_numbers_are_unique_under_concurrency(store: ItemStore) -> None:
    numbers = await asyncio.gather(*(store.next_item_number(ItemType.INCIDENT) for _ in range(20)))
    assert sorted(numbers) == list(range(1, 21))
    assert await store.next_item_number(ItemType.DEFECT) == 1


async def test_insert_item_is_idempotent_per_mail(store: ItemStore) -> None:
    item = _item("a", 1, ["cust@x.test"])
    assert await store.insert_item(item, _msg("k1", item.id), [_event("e1")])
    assert not await store.insert_item(item, _msg("k1", item.id), [_event("e1")])
    applied = await store.item_for_mail("k1")
    assert applied is not None and applied.id == item.id
    assert await store.item_for_mail("k2") is None
    found = await store.find_item_by_number(ItemType.INCIDENT, 1)
    assert found is not None and found.participants == ["cust@x.test"]
    assert [e.event_id for e in await store.pending_events()] == ["e1"]
    assert len(await store.list_messages(item.id)) == 1


def _log(key: str, action: str) -> ProcessingLogEntry:
    return ProcessingLogEntry(
        id=f"{key}:converter:{action}",
        mail_key=key,
        account_id="acc1",
        stage="converter",
        action=action,
        reason="r",
    )


async def test_item_writes_record_their_log_entry_once(store: Store) -> None:
    # The converter's one write per mail: the item (or the appended message) with its log
    # entry; a repeated write is a no-op, its log entry included.
    item = _item("a", 1)
    assert await store.insert_item(item, _msg("k1", item.id), [], log=_log("k1", "created"))
    assert not await store.insert_item(item, _msg("k1", item.id), [], log=_log("k1", "again"))
    reply = _msg("k2", item.id, "<reply@x.test>")
    threaded = _log("k2", "threaded")
    assert await store.append_message(item.id, reply, [], add_participants=[], log=threaded)
    assert not await store.append_message(
        item.id, reply, [], add_participants=[], log=_log("k2", "again")
    )
    logged = await store.list_log(account_id="acc1")
    assert sorted(entry.id for entry in logged) == ["k1:converter:created", threaded.id]


async def test_append_message_once_per_key(store: ItemStore) -> None:
    item = _item("a", 1)
    await store.insert_item(item, _msg("k1", item.id), [])
    assert await store.append_message(
        item.id,
        _msg("k2", item.id, "<reply@x.test>"),
        [_event("e2")],
        add_participants=["pal@x.test"],
    )
    assert not await store.append_message(
        item.id,
        _msg("k2", item.id, "<reply@x.test>"),
        [_event("e2")],
        add_participants=["pal@x.test"],
    )
    got = await store.get_item(item.id)
    assert got is not None and got.message_count == 2 and got.participants == ["pal@x.test"]
    assert got.updated_at >= got.created_at
    applied = await store.item_for_mail("k2")
    assert applied is not None and applied.id == item.id
    by_ref = await store.find_item_by_message_ids("acc1", ["<unknown@x>", "<reply@x.test>"])
    assert by_ref is not None and by_ref.id == item.id
    assert await store.find_item_by_message_ids("other", ["<reply@x.test>"]) is None
    assert await store.find_item_by_message_ids("acc1", []) is None
    assert [m.key for m in await store.list_messages(item.id)] == ["k1", "k2"]
    with pytest.raises(KeyError):
        await store.append_message("it_missing", _msg("k3", "it_missing"), [], add_participants=[])


async def test_append_applies_item_changes_once(store: ItemStore) -> None:
    item = _item("a", 1)
    await store.insert_item(item, _msg("k1", item.id), [])
    changes = ItemChanges(status="open", workflow_step="Triage", bounced=("x@y.test",))
    assert await store.append_message(
        item.id, _msg("k2", item.id), [], add_participants=[], changes=changes
    )
    assert not await store.append_message(
        item.id, _msg("k2", item.id), [], add_participants=[], changes=ItemChanges(status="closed")
    )
    got = await store.get_item(item.id)
    assert got is not None
    assert (got.status, got.workflow_step, got.bounced) == ("open", "Triage", ["x@y.test"])
    await store.append_message(
        item.id,
        _msg("k3", item.id),
        [],
        add_participants=[],
        changes=ItemChanges(bounced=("x@y.test", "z@y.test")),
    )
    got = await store.get_item(item.id)
    assert got is not None and got.bounced == ["x@y.test", "z@y.test"] and got.status == "open"


async def test_outbox_is_drained_by_mark_published(store: ItemStore) -> None:
    await store.insert_item(_item("a", 1), _msg("k1", "it_a"), [_event("e1"), _event("e2")])
    await store.insert_item(_item("b", 2), _msg("k2", "it_b"), [_event("e3")])
    assert {e.event_id for e in await store.pending_events()} == {"e1", "e2", "e3"}
    await store.mark_published("e2")
    await store.mark_published("e2")
    assert {e.event_id for e in await store.pending_events()} == {"e1", "e3"}
    pending = await store.pending_events(limit=1)
    assert len(pending) == 1 and pending[0].body == '{"x": 1}'


async def test_items_are_listed_newest_first(store: ItemStore) -> None:
    for n in range(1, 4):
        await store.insert_item(_item(str(n), n), _msg(f"k{n}", f"it_{n}"), [])
    assert [i.number for i in await store.query_items(ItemQuery())] == [3, 2, 1]
    assert [i.number for i in await store.query_items(ItemQuery(limit=2))] == [3, 2]


async def _add_item(store: ItemStore, n: int, **fields: object) -> Item:
    base = utcnow() - timedelta(minutes=100)
    values: dict[str, object] = {
        "id": f"it_{n:03d}",
        "item_type": ItemType.INCIDENT,
        "number": n,
        "project": "P",
        "account_id": "a1",
        "title": f"Printer {n}",
        "requester": Party(address="Cust@X.test"),
        "created_at": base + timedelta(minutes=n // 2),  # pairs share a timestamp
    }
    values.update(fields)
    item = Item.model_validate(values)
    msg = ThreadMessage(key=f"k{n}", item_id=item.id, account_id="a1", direction="in")
    assert await store.insert_item(item, msg, [])
    return item


async def test_query_items_filters_and_cursor(store: ItemStore) -> None:
    for n in range(1, 8):
        await _add_item(store, n)
    await _add_item(store, 8, status="closed", title="Scanner jam", account_id="a2")
    await _add_item(store, 9, item_type=ItemType.DEFECT, project="Q", requester_id="p7")

    everything = await store.query_items(ItemQuery())
    assert [i.number for i in everything] == [9, 8, 7, 6, 5, 4, 3, 2, 1]
    pages: list[int] = []
    cursor = None
    while True:
        page = await store.query_items(ItemQuery(limit=2, before=cursor))
        pages += [i.number for i in page]
        if len(page) < 2:
            break
        cursor = (page[-1].created_at, page[-1].id)
    assert pages == [9, 8, 7, 6, 5, 4, 3, 2, 1]

    def numbers(items: list[Item]) -> list[int]:
        return [i.number for i in items]

    assert numbers(await store.query_items(ItemQuery(status="closed"))) == [8]
    assert numbers(await store.query_items(ItemQuery(account_id="a2"))) == [8]
    assert numbers(await store.query_items(ItemQuery(item_type=ItemType.DEFECT))) == [9]
    assert numbers(await store.query_items(ItemQuery(project="Q"))) == [9]
    assert numbers(await store.query_items(ItemQuery(text="SCANNER"))) == [8]
    assert numbers(await store.query_items(ItemQuery(requester="p7"))) == [9]
    assert len(await store.query_items(ItemQuery(requester="cust@x.test"))) == 9
    # operator-looking and regex-looking values are plain values
    assert await store.query_items(ItemQuery(text=".*")) == []
    assert await store.query_items(ItemQuery(status='{"$ne": null}')) == []
