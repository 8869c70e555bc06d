"""One owner for the item: the converter applies `item.record_sent_mail.v1` (the replier's
request to put a sent mail on the thread) on a real broker and both stores, once per mail,
however often the command arrives, and parks a command it can never apply."""

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from faststream.rabbit import RabbitBroker

from postroom_replier.domain.sent_mail import record_sent_mail
from postroom_shared.contracts import RecordSentMailV1
from postroom_shared.messaging import publish_command
from postroom_shared.models import Item, ItemType
from postroom_shared.retry import ERROR_HEADER, dead_letter_queue, retry_queue
from postroom_shared.settings import CommonSettings
from postroom_shared.store import Store
from postroom_shared.store.ports import MailWrite, WriteResult
from tests import factories
from tests.integration.item_owner import QUEUE, caller_broker, item_owner, owner_settings
from tests.integration.test_config_reads import Counting
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
SENT_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
COMMANDS = 16


@pytest.fixture
def settings(stack: StackEnv, store_url: str) -> CommonSettings:
    return owner_settings(stack, store_url)


@pytest.fixture
async def broker(settings: CommonSettings) -> AsyncIterator[RabbitBroker]:
    async with caller_broker(settings) as opened:
        yield opened


def _command(item_id: str, n: int = 1) -> RecordSentMailV1:
    item = Item(
        id=item_id,
        item_type=ItemType.INCIDENT,
        number=1,
        project="Support",
        account_id="acc1",
        title="Printer",
    )
    event = factories.item_created(item, n, "customer@example.test")
    return record_sent_mail(
        event=event,
        account=factories.account(),
        recipient="customer@example.test",
        kind="auto_reply",
        message_id=f"<sent-{n}@example.test>",
        subject="Re: [INC-1] Printer",
        sent_at=SENT_AT,
    )


class _WriteThenCrash:
    """The real store, except that the first batch of appends is stored and then the process
    dies before it could ack: the broker hands the command over once more."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.crashed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def write_mails(self, writes: Sequence[MailWrite]) -> list[WriteResult]:
        written: list[WriteResult] = await self._store.write_mails(writes)
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("crash between the thread write and the ack")
        return written

    async def append_message(self, *args: Any, **kwargs: Any) -> bool:
        # the group commit's retry of a failed batch, one append at a time
        appended: bool = await self._store.append_message(*args, **kwargs)
        return appended


async def test_a_redelivered_command_appends_once(
    settings: CommonSettings, store: Store, broker: RabbitBroker
) -> None:
    item = await factories.stored_incident(store, 1)
    before = await store.get_item(item.id)
    assert before is not None
    crashing = _WriteThenCrash(store)
    command = _command(item.id)
    async with item_owner(settings, crashing) as owner:
        started = asyncio.get_running_loop().time()
        for _ in range(3):  # the replier asks again on every redelivery of its event
            await publish_command(broker, command)
        [out] = await owner.outbound(item.id, at_least=1)
        await asyncio.sleep(1.5)  # the crashed copy's retry (1 s backoff) comes back
        took = asyncio.get_running_loop().time() - started
        delay = await owner.channel.declare_queue(retry_queue(QUEUE, 1.0), passive=True)
        assert delay.declaration_result.message_count == 0 and await owner.waiting() == 0
        assert [m.key for m in await owner.outbound(item.id, at_least=1)] == [out.key]
    assert crashing.crashed
    assert out.key == "out:<sent-1@example.test>" and out.direction == "out"
    assert out.kind == "auto_reply" and out.created_at == SENT_AT
    assert [p.address for p in out.to] == ["customer@example.test"]
    assert out.in_reply_to == [command.in_reply_to[0]] and out.subject == command.subject
    after = await store.get_item(item.id)
    assert after is not None and after.message_count == before.message_count + 1
    print(f"3 copies + 1 redelivery after a crash: 1 thread entry, settled in {took:.2f} s")


async def test_commands_handled_side_by_side_share_their_writes(
    settings: CommonSettings, store: Store, broker: RabbitBroker
) -> None:
    """One command per auto-reply: the appends of commands in flight together go to the store
    in one call (the group commit), each to its own item, each once."""
    items = [await factories.stored_incident(store, n) for n in range(1, COMMANDS + 1)]
    counting = Counting(store)
    async with item_owner(settings, cast(Store, counting)) as owner:
        await asyncio.gather(
            *(publish_command(broker, _command(item.id, n)) for n, item in enumerate(items, 1))
        )
        for n, item in enumerate(items, 1):
            [out] = await owner.outbound(item.id, at_least=1)
            assert out.key == f"out:<sent-{n}@example.test>"
    calls = counting.calls
    print(f"\nstore calls for {COMMANDS} commands: {dict(sorted(calls.items()))}")
    assert calls["append_message"] == 0
    assert 1 <= calls["write_mails"] < COMMANDS
    for item in items:
        after = await store.get_item(item.id)
        assert after is not None and after.message_count == item.message_count + 1


async def test_a_command_for_a_missing_item_is_parked_in_the_dlq(
    settings: CommonSettings, store: Store, broker: RabbitBroker
) -> None:
    command = _command("it_nowhere", 2)
    async with item_owner(settings, store) as owner:
        dlq = await owner.channel.declare_queue(dead_letter_queue(QUEUE), passive=True)
        await dlq.purge()
        await publish_command(broker, command)
        parked = None
        for _ in range(100):  # one more try after 1 s, then the DLQ
            parked = await dlq.get(fail=False)
            if parked is not None:
                break
            await asyncio.sleep(0.1)
        assert parked is not None
        await parked.ack()
    assert json.loads(parked.body)["command_id"] == str(command.command_id)
    assert "no item it_nowhere" in str((parked.headers or {})[ERROR_HEADER])
