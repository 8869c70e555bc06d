"""The item's owner in tests: the converter's command consumer (`register_commands`) on a real
broker and the test's store, so that a replier's sent mail reaches the item's thread exactly
as in production, through `item.record_sent_mail.v1`.

The command travels after `Replier.handle` returns (it returns once the broker confirmed it),
so tests read the thread with `outbound`, which waits until the commands are consumed.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aio_pika import connect_robust
from aio_pika.abc import AbstractChannel

from postroom_converter.commands import register_commands
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.models import ThreadMessage
from postroom_shared.retry import RetryPolicy
from postroom_shared.runtime import make_broker
from postroom_shared.settings import CommonSettings
from postroom_shared.store import Store
from postroom_shared.topology import COMMAND_CONSUMERS, consumer_queue, declare_topology

QUEUE = consumer_queue(*COMMAND_CONSUMERS[0]).name


class ItemOwner:
    def __init__(self, store: Store, channel: AbstractChannel) -> None:
        self.store, self.channel = store, channel

    async def waiting(self) -> int:
        """Commands not yet handed to the owner."""
        queue = await self.channel.declare_queue(QUEUE, passive=True)
        return queue.declaration_result.message_count or 0

    async def outbound(
        self, item_id: str, *, at_least: int = 0, timeout_s: float = 20.0
    ) -> list[ThreadMessage]:
        """The item's outbound messages once no command is waiting and the thread has not
        changed for a moment (and holds `at_least` of them)."""
        end = time.monotonic() + timeout_s
        seen: list[ThreadMessage] | None = None
        while True:
            now = [m for m in await self.store.list_messages(item_id) if m.direction == "out"]
            settled = seen is not None and len(now) == len(seen) and len(now) >= at_least
            if (settled and await self.waiting() == 0) or time.monotonic() > end:
                return now
            seen = now
            await asyncio.sleep(0.3)


@asynccontextmanager
async def item_owner(settings: CommonSettings, store: Store) -> AsyncIterator[ItemOwner]:
    """Run the owner's command consumers on `store` until the block ends. Commands left in
    the queues by earlier tests (whose stores are gone) are purged first."""
    broker = make_broker(settings)
    register_commands(
        broker,
        store,
        RetryPolicy(),
        signer=MessageIdSigner.checking(settings.secret_key.get_secret_value()),
    )
    await broker.connect()
    await declare_topology(broker)
    connection = await connect_robust(settings.broker_url)
    channel = await connection.channel()
    for owner, command_type in COMMAND_CONSUMERS:
        queue = consumer_queue(owner, command_type).name
        await (await channel.declare_queue(queue, passive=True)).purge()
    await broker.start()
    try:
        yield ItemOwner(store, channel)
    finally:
        await broker.stop()
        await connection.close()
