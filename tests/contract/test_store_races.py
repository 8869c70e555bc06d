"""Concurrent applies of one idempotency key, on both stores, from two store clients at once.

N converters, an overlapping fetch lease, a push retry and a broker redelivery all hand the same
mail (or event) to the store twice, at the same moment. Whatever the interleaving, exactly one
write wins and every other call sees "already applied": one item, one thread message, one outbox
event, one ledger claim, one log record, one quarantine entry. Each test drives 20 calls through
`asyncio.gather`, split over two separately opened stores (two connections, two SQLite threads).
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from postroom_shared.models import (
    Item,
    ItemType,
    LedgerEntry,
    Party,
    Person,
    ProcessingLogEntry,
    QuarantineEntry,
    ThreadMessage,
    utcnow,
)
from postroom_shared.store import OutboxEvent, Store
from tests.conftest import opened_store
from tests.factories import all_items

CALLS = 20


@pytest.fixture
async def clients(store_url: str) -> AsyncIterator[tuple[Store, Store]]:
    async with opened_store(store_url) as first, opened_store(store_url) as second:
        yield first, second


async def _race[T](
    clients: tuple[Store, Store], call: Callable[[Store, int], Awaitable[T]]
) -> list[T]:
    return await asyncio.gather(*(call(clients[n % 2], n) for n in range(CALLS)))


def _item(n: int) -> Item:
    return Item(
        id=f"it_{n}",
        item_type=ItemType.INCIDENT,
        number=n + 1,
        project="Support",
        account_id="acc1",
        title=f"title {n}",
        requester=Party(address="cust@x.test"),
        message_count=1,
    )


def _msg(key: str, item_id: str) -> ThreadMessage:
    return ThreadMessage(
        key=key,
        item_id=item_id,
        account_id="acc1",
        direction="in",
        message_id=f"<{key}@x.test>",
        subject="s",
        text=f"for {item_id}",
    )


def _event(event_id: str) -> OutboxEvent:
    return OutboxEvent(event_id=event_id, routing_key="item.created.v1", body="{}")


async def _threads(store: Store, item_ids: list[str]) -> dict[str, list[ThreadMessage]]:
    return {item_id: await store.list_messages(item_id) for item_id in item_ids}


async def test_one_mail_inserted_concurrently_makes_one_item(
    clients: tuple[Store, Store],
) -> None:
    # Each caller built its own item (own id, own number), as converters that allocated a
    # number each would: only one may become visible, with its own first message.
    async def insert(store: Store, n: int) -> bool:
        item = _item(n)
        return await store.insert_item(item, _msg("k1", item.id), [_event(f"e{n}")])

    results = await _race(clients, insert)
    assert results.count(True) == 1, results
    winner = f"it_{results.index(True)}"
    store = clients[0]
    applied = await store.item_for_mail("k1")
    assert applied is not None and applied.id == winner
    assert [i.id for i in await all_items(store)] == [winner]
    assert [e.event_id for e in await store.pending_events()] == [f"e{results.index(True)}"]
    messages = await store.list_messages(winner)
    assert [(m.key, m.item_id, m.text) for m in messages] == [("k1", winner, f"for {winner}")]
    found = await store.find_item_by_message_ids("acc1", ["<k1@x.test>"])
    assert found is not None and found.id == winner


async def test_one_reply_appended_concurrently_is_appended_once(
    clients: tuple[Store, Store],
) -> None:
    store = clients[0]
    first = _item(0)
    await store.insert_item(first, _msg("k1", first.id), [])

    async def append(client: Store, n: int) -> bool:
        return await client.append_message(
            first.id, _msg("k2", first.id), [_event(f"u{n}")], add_participants=["pal@x.test"]
        )

    results = await _race(clients, append)
    assert results.count(True) == 1, results
    got = await store.get_item(first.id)
    assert got is not None and got.message_count == 2 and got.participants == ["pal@x.test"]
    assert [m.key for m in await store.list_messages(first.id)] == ["k1", "k2"]
    assert [e.event_id for e in await store.pending_events()] == [f"u{results.index(True)}"]


async def test_one_reply_threaded_onto_two_items_lands_on_one(
    clients: tuple[Store, Store],
) -> None:
    # Two converters that decided differently (the store changed between their decisions)
    # append the same mail to different items: it must still be applied once.
    store = clients[0]
    items = [_item(0), _item(1)]
    for item in items:
        await store.insert_item(item, _msg(f"first-{item.id}", item.id), [])

    async def append(client: Store, n: int) -> bool:
        target = items[n % 2 if n < CALLS // 2 else (n + 1) % 2]
        return await client.append_message(
            target.id, _msg("k2", target.id), [_event(f"u{n}")], add_participants=[]
        )

    results = await _race(clients, append)
    assert results.count(True) == 1, results
    applied = await store.item_for_mail("k2")
    assert applied is not None
    threads = await _threads(store, [item.id for item in items])
    holding = [item_id for item_id, msgs in threads.items() if "k2" in [m.key for m in msgs]]
    assert holding == [applied.id]
    assert [m.item_id for m in threads[applied.id] if m.key == "k2"] == [applied.id]
    counts = {item.id: (await store.get_item(item.id)).message_count for item in items}  # type: ignore[union-attr]
    assert sorted(counts.values()) == [1, 2] and counts[applied.id] == 2
    assert len(await store.pending_events()) == 1


async def test_new_item_and_reply_racing_for_one_mail_apply_it_once(
    clients: tuple[Store, Store],
) -> None:
    store = clients[0]
    existing = _item(99)
    await store.insert_item(existing, _msg("k0", existing.id), [])

    async def apply(client: Store, n: int) -> bool:
        if n % 3:
            item = _item(n)
            return await client.insert_item(item, _msg("k1", item.id), [_event(f"c{n}")])
        return await client.append_message(
            existing.id, _msg("k1", existing.id), [_event(f"u{n}")], add_participants=[]
        )

    results = await _race(clients, apply)
    assert results.count(True) == 1, results
    applied = await store.item_for_mail("k1")
    assert applied is not None
    messages = [m for m in await store.list_messages(applied.id) if m.key == "k1"]
    assert [m.item_id for m in messages] == [applied.id]
    visible = {i.id for i in await all_items(store)}
    assert visible == {existing.id, applied.id}
    assert len(await store.pending_events()) == 1


async def test_item_numbers_from_two_clients_are_unique(clients: tuple[Store, Store]) -> None:
    async def number(client: Store, n: int) -> int:
        return await client.next_item_number(ItemType.DEFECT)

    assert sorted(await _race(clients, number)) == list(range(1, CALLS + 1))


async def test_ledger_claimed_once_across_clients(clients: tuple[Store, Store]) -> None:
    entry = LedgerEntry(item_id="it_1", reason="auto_reply:k", recipient="c@x", message_id="<m>")
    stale_before = utcnow().replace(year=2000)

    async def claim(client: Store, n: int) -> str:
        return await client.claim_ledger(entry, stale_before=stale_before)

    results = await _race(clients, claim)
    assert sorted(results) == ["busy"] * (CALLS - 1) + ["claimed"]


async def test_log_quarantine_seen_keys_and_contacts_under_concurrency(
    clients: tuple[Store, Store],
) -> None:
    store = clients[0]

    async def log(client: Store, n: int) -> None:
        await client.put_log(
            ProcessingLogEntry(
                id="k1:converter:created",
                mail_key="k1",
                account_id="acc1",
                stage="converter",
                action="created",
                reason=f"r{n}",
            )
        )

    await _race(clients, log)
    assert len(await store.list_log(mail_key="k1")) == 1

    entry = QuarantineEntry(
        id="q1", account_id="acc1", mail_key="k1", reason="bad", blob_ref="", event="{}"
    )

    async def quarantine(client: Store, n: int) -> None:
        await client.put_quarantine(entry)

    await _race(clients, quarantine)
    got = await store.get_quarantine("q1")
    assert got is not None and got.attempts == CALLS
    assert await store.count_quarantine() == 1

    async def seen(client: Store, n: int) -> None:
        await client.add_seen_keys("acc1", "msgid:INBOX", ["<a@x>", "<b@x>"])

    await _race(clients, seen)
    assert await store.seen_keys("acc1", "msgid:INBOX", ["<a@x>", "<b@x>", "<c@x>"]) == {
        "<a@x>",
        "<b@x>",
    }

    async def contact(client: Store, n: int) -> str:
        person = Person(id=f"c{n}", kind="contact", emails=["new@x.test"])
        return (await client.ensure_contact(person)).id

    owners = await _race(clients, contact)
    assert len(set(owners)) == 1
    assert len(await store.list_people(kind="contact")) == 1
