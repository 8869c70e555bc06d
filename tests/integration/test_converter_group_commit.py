"""The converter's group commit on a real broker and both stores: mails converted side by side
are written in one store call and their events confirmed together, each handler returns only
after its own mail is stored and its event confirmed, and one failing write (or a batch call
that fails as a whole) does not fail the other mails."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any, cast

import pytest
from aio_pika.abc import AbstractChannel, AbstractQueue
from faststream.rabbit import RabbitBroker

from postroom_converter.domain.outcome import Created
from postroom_converter.group_commit import GroupCommit
from postroom_converter.service import Converter
from postroom_converter.store import ConverterStore
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.store import OutboxEvent, Store
from postroom_shared.store.ports import AppendedMessage, MailWrite, NewItem, StoreUnavailableError
from tests import factories
from tests.contract.test_store_items import _item, _msg
from tests.integration import test_converter_broker as converter_broker
from tests.integration.test_config_reads import Counting
from tests.integration.test_converter_broker import _connected, _drain, _tap
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
SECRET = "g" * 40
MAILS = 12


# the converter's tests' own: a store with account acc1 (both adapters), a channel
store = converter_broker.store
channel = converter_broker.channel


@pytest.fixture
async def broker(stack: StackEnv) -> AsyncIterator[RabbitBroker]:
    connected = await _connected(stack)
    yield connected
    await connected.stop()


@pytest.fixture
async def tap(channel: AbstractChannel) -> AbstractQueue:
    """Every item event published from now on."""
    return await _tap(channel, "item.#")


async def _event_ids(queue: AbstractQueue) -> list[str]:
    return [json.loads(body)["event_id"] for body in await _drain(queue)]


def _mail(n: int) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"customer{n}@customers.test"
    mail["To"] = "support@example.test"
    mail["Subject"] = f"Printer {n}"
    mail["Message-ID"] = f"<{uuid.uuid4().hex}@example.test>"
    mail.set_content("on fire")
    return mail.as_bytes()


async def test_mails_converted_side_by_side_share_their_writes(
    store: Store, broker: RabbitBroker, tap: AbstractQueue
) -> None:
    counting = Counting(store)
    converter = Converter(
        store=cast(ConverterStore, counting),
        broker=broker,
        signer=MessageIdSigner.checking(SECRET),
    )
    events = [factories.mail_received(f"acc1/INBOX/9/{n}", _mail(n)) for n in range(MAILS)]
    outcomes = await asyncio.gather(*(converter.handle(e) for e in events))
    assert all(isinstance(o, Created) for o in outcomes)
    tokens = sorted(int(o.token.split("-")[1]) for o in outcomes if isinstance(o, Created))
    assert tokens == list(range(1, MAILS + 1))  # every number handed out once
    calls = counting.calls
    print(f"\nstore calls for {MAILS} mails at once: {dict(sorted(calls.items()))}")
    # the writes went in batches, not one by one, and nothing was written twice
    assert calls["insert_item"] == 0 and calls["mark_published"] == 0
    assert 1 <= calls["write_mails"] < MAILS
    assert calls["items_for_mails"] < MAILS and calls["next_item_numbers"] < MAILS
    # each handler returned after its event was confirmed and cleared
    assert await store.pending_events() == []
    published = await _event_ids(tap)
    assert len(published) == MAILS == len(set(published))
    assert len(await factories.all_items(store)) == MAILS


def _created(n: int) -> OutboxEvent:
    event_id = f"ev-{uuid.uuid4().hex}"
    body = json.dumps({"event_id": event_id, "n": n})
    return OutboxEvent(event_id=event_id, routing_key="item.created.v1", body=body)


def _new(n: int) -> NewItem:
    return NewItem(_item(f"g{n}", 100 + n), _msg(f"g/{n}", f"it_g{n}"), [_created(n)])


async def test_one_failing_write_fails_only_its_mail(
    store: Store, broker: RabbitBroker, tap: AbstractQueue
) -> None:
    commit = GroupCommit(store, broker)
    writes: list[MailWrite] = [
        _new(1),
        AppendedMessage("it_gone", _msg("g/2", "it_gone"), [_created(2)]),
        _new(3),
    ]
    results = await asyncio.gather(*(commit.write(w) for w in writes), return_exceptions=True)
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], KeyError)
    assert sorted(await _event_ids(tap)) == sorted(
        w.events[0].event_id for w in (writes[0], writes[2])
    )
    assert await store.pending_events() == []


class BatchesFail:
    """The store, whose batch write fails as a whole (say, a statement the server refuses for
    one odd mail): everything else is the real store's."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def write_mails(self, writes: list[MailWrite]) -> list[bool]:
        raise StoreUnavailableError("the batch did not go through")


async def test_a_failed_batch_is_written_mail_by_mail(
    store: Store, broker: RabbitBroker, tap: AbstractQueue
) -> None:
    commit = GroupCommit(cast(ConverterStore, BatchesFail(store)), broker)
    writes = [_new(4), _new(5), _new(4)]  # the same mail twice: written once
    assert await asyncio.gather(*(commit.write(w) for w in writes)) == [True, True, False]
    assert len(await _event_ids(tap)) == 2
    assert await store.pending_events() == []
