"""Contract of the items port's batch calls (`ItemBatches`, `Outbox.mark_all_published`), the
converter's group commit, on SQLite and on MongoDB: a batch means what its writes mean one by
one, and one failing write does not fail the others."""

import asyncio

from postroom_shared.models import ItemType, Person
from postroom_shared.store import ItemChanges, Store
from postroom_shared.store.ports import (
    AppendedMessage,
    ContactClash,
    ItemStore,
    MailWrite,
    NewItem,
)
from tests.contract.test_store_items import _event, _item, _log, _msg


async def test_a_batch_writes_new_items_and_replies_once(store: Store) -> None:
    first, second = _item("a", 1), _item("b", 2)
    batch: list[MailWrite] = [
        NewItem(first, _msg("k1", first.id), [_event("e1")], _log("k1", "created")),
        NewItem(second, _msg("k2", second.id), [_event("e2")], _log("k2", "created")),
        # a reply to the item created earlier in the same batch
        AppendedMessage(
            first.id,
            _msg("k3", first.id, "<reply@x.test>"),
            [_event("e3")],
            ["pal@x.test"],
            changes=ItemChanges(status="open"),
            log=_log("k3", "threaded"),
        ),
    ]
    assert await store.write_mails(batch) == [True, True, True]
    assert await store.write_mails(batch) == [False, False, False]
    got = await store.get_item(first.id)
    assert got is not None
    assert (got.message_count, got.participants, got.status) == (2, ["pal@x.test"], "open")
    assert [m.key for m in await store.list_messages(first.id)] == ["k1", "k3"]
    assert {e.event_id for e in await store.pending_events()} == {"e1", "e2", "e3"}
    logged = {entry.id for entry in await store.list_log(account_id="acc1")}
    assert logged == {"k1:converter:created", "k2:converter:created", "k3:converter:threaded"}
    applied = await store.items_for_mails(["k1", "k2", "k3", "k9"])
    assert {key: item.id for key, item in applied.items()} == {
        "k1": first.id,
        "k2": second.id,
        "k3": first.id,
    }


async def test_one_failing_write_leaves_the_others_written(store: Store) -> None:
    item = _item("a", 1)
    batch: list[MailWrite] = [
        NewItem(item, _msg("k1", item.id), [_event("e1")]),
        AppendedMessage("it_missing", _msg("k2", "it_missing"), [_event("e2")]),
        NewItem(_item("b", 2), _msg("k3", "it_b"), [_event("e3")]),
    ]
    results = await store.write_mails(batch)
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], KeyError)
    assert {e.event_id for e in await store.pending_events()} == {"e1", "e3"}
    assert set(await store.items_for_mails(["k1", "k2", "k3"])) == {"k1", "k3"}


async def test_a_batch_skips_what_single_writes_applied(store: Store) -> None:
    item = _item("a", 1)
    assert await store.insert_item(item, _msg("k1", item.id), [], log=_log("k1", "created"))
    again = NewItem(item, _msg("k1", item.id), [_event("e1")], _log("k1", "again"))
    twice = NewItem(_item("b", 2), _msg("k2", "it_b"), [])
    assert await store.write_mails([again, twice, twice]) == [False, True, False]
    assert await store.pending_events() == []
    logged = [entry.id for entry in await store.list_log(account_id="acc1")]
    assert logged == ["k1:converter:created"]
    assert await store.write_mails([]) == []


async def test_numbers_are_allocated_in_blocks_never_twice(store: ItemStore) -> None:
    assert await store.next_item_numbers(ItemType.INCIDENT, 3) == [1, 2, 3]
    blocks, singles = await asyncio.gather(
        asyncio.gather(*(store.next_item_numbers(ItemType.INCIDENT, 4) for _ in range(5))),
        asyncio.gather(*(store.next_item_number(ItemType.INCIDENT) for _ in range(5))),
    )
    numbers = [n for block in blocks for n in block] + list(singles)
    assert sorted(numbers) == list(range(4, 29))
    assert await store.next_item_numbers(ItemType.DEFECT, 0) == []
    assert await store.next_item_number(ItemType.DEFECT) == 1


async def test_mark_all_published_clears_only_those(store: ItemStore) -> None:
    await store.insert_item(_item("a", 1), _msg("k1", "it_a"), [_event("e1"), _event("e2")])
    await store.insert_item(_item("b", 2), _msg("k2", "it_b"), [_event("e3")])
    await store.mark_all_published(["e1", "e3", "e9"])
    await store.mark_all_published([])
    assert [e.event_id for e in await store.pending_events()] == ["e2"]


def _contact(person_id: str, address: str) -> Person:
    return Person(id=person_id, kind="contact", emails=[address])


async def test_a_new_items_contact_is_stored_with_it_once(store: Store) -> None:
    contact = _contact("ct_new", "new@x.test")
    first, second = _item("a", 1), _item("b", 2)
    # two mails of the same unknown sender in one batch: one contact, both items
    batch: list[MailWrite] = [
        NewItem(first, _msg("k1", first.id), [], contact=contact),
        NewItem(second, _msg("k2", second.id), [], contact=contact),
    ]
    assert await store.write_mails(batch) == [True, True]
    found = await store.find_person("NEW@x.test")
    assert found is not None and (found.id, found.kind, found.emails) == (
        "ct_new",
        "contact",
        ["new@x.test"],
    )
    assert await store.write_mails(batch) == [False, False]
    assert [p.id for p in await store.list_people(kind="contact")] == ["ct_new"]


async def test_a_contact_whose_address_found_another_owner_fails_its_mail_alone(
    store: Store,
) -> None:
    customer = Person(id="cu_1", kind="customer", emails=["taken@x.test"])
    await store.put_person(customer)
    clashing, fine = _item("a", 1), _item("b", 2)
    batch: list[MailWrite] = [
        NewItem(
            clashing,
            _msg("k1", clashing.id),
            [_event("e1")],
            contact=_contact("ct_t", "taken@x.test"),
        ),
        NewItem(fine, _msg("k2", fine.id), [_event("e2")], contact=_contact("ct_f", "free@x.test")),
    ]
    results = await store.write_mails(batch)
    assert isinstance(results[0], ContactClash) and results[1] is True
    # nothing of the failed mail is stored: tried again, it finds the customer
    assert set(await store.items_for_mails(["k1", "k2"])) == {"k2"}
    assert await store.get_item(clashing.id) is None
    assert [e.event_id for e in await store.pending_events()] == ["e2"]
    owner = await store.find_person("taken@x.test")
    assert owner is not None and owner.id == customer.id
    assert await store.get_person("ct_t") is None
