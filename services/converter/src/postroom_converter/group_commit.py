"""Group commit: the converter's store calls and publishes for mails converted side by side.

Per mail the converter asks whether the mail was applied, allocates an item number, writes the
item (or the appended message) with its outbox event and log entry, publishes that event and
clears it from the outbox. Made one by one, each is a store call of its own (on SQLite a hop to
the database thread, and the write a transaction) and each publish a confirm awaited on its own.
Here the handlers' calls are coalesced (`postroom_shared.coalescing.Coalescer`): one
`items_for_mails` for the mails arriving together; and for the mails ready to be written, one
`next_item_numbers` per item type (a new item gets its number with its batch, `Numbered`), one
`write_mails` (one transaction), their events published together, one `mark_all_published`.
The sent mails the replier asks to put on threads (`commands/sent_mail.py`, one command per
auto-reply) are appends without events and join the same batches.

The ack policy is unchanged: a handler gets its answer only after its mail is committed and
its events confirmed, so its message is acked after both. A write that fails fails only its
own mail; a batch call that fails as a whole is retried mail by mail (`insert_item`,
`append_message`), so one bad mail cannot take its batch with it. An event the broker did not
confirm fails its mail (the broker redelivers it, and the redelivery publishes what is left
in the outbox); a failure to clear confirmed events leaves them to the outbox relay, which
publishes them again (consumers dedupe by event id).
"""

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from faststream.rabbit import RabbitBroker

from postroom_converter.store import ConverterStore
from postroom_shared.coalescing import Coalescer
from postroom_shared.logs import get_logger
from postroom_shared.messaging import publish_together
from postroom_shared.models import Item, ItemType
from postroom_shared.store.ports import (
    AppendedMessage,
    ContactClash,
    MailWrite,
    NewItem,
    WriteResult,
)

__all__ = ["GroupCommit", "Numbered"]

log = get_logger(__name__)


@dataclass(frozen=True)
class Numbered:
    """A new item that gets its number with its batch: `build(number)` makes its write (the
    number is in the item, its event and its log entry)."""

    item_type: ItemType
    build: Callable[[int], NewItem]


@dataclass
class GroupCommit:
    store: ConverterStore
    broker: RabbitBroker
    max_batch: int = 64
    applied: Coalescer[str, Item | None] = field(init=False, repr=False)
    write: Coalescer["MailWrite | Numbered", bool] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.applied = Coalescer(self._applied, max_batch=self.max_batch)
        self.write = Coalescer(self._write, max_batch=self.max_batch)

    async def _applied(self, mail_keys: list[str]) -> list[Item | Exception | None]:
        found = await self.store.items_for_mails(mail_keys)
        return [found.get(key) for key in mail_keys]

    async def _numbered(self, asked: list["MailWrite | Numbered"]) -> list[WriteResult | MailWrite]:
        """The batch with a number allocated for each new item that waits for one: one call per
        item type (never a number twice; one a duplicate does not use stays a gap)."""
        wanted = Counter(w.item_type for w in asked if isinstance(w, Numbered))
        blocks = {
            item_type: iter(await self.store.next_item_numbers(item_type, count))
            for item_type, count in wanted.items()
        }
        ready: list[WriteResult | MailWrite] = []
        for w in asked:
            try:
                ready.append(w.build(next(blocks[w.item_type])) if isinstance(w, Numbered) else w)
            except Exception as exc:  # this mail's own failure
                ready.append(exc)
        return ready

    async def _write(self, asked: list["MailWrite | Numbered"]) -> list[bool | Exception]:
        ready = await self._numbered(asked)
        writes = [w for w in ready if isinstance(w, NewItem | AppendedMessage)]
        stored = iter(await self._stored(writes))
        results = [next(stored) if isinstance(w, NewItem | AppendedMessage) else w for w in ready]
        written = [n for n, result in enumerate(results) if result is True]
        events = [(n, event) for n in written for event in cast(MailWrite, ready[n]).events]
        failures = await publish_together(self.broker, [event for _, event in events])
        confirmed = [
            e.event_id for (_, e), failed in zip(events, failures, strict=True) if not failed
        ]
        try:
            await self.store.mark_all_published(confirmed)
        except Exception as exc:  # confirmed and stored: the relay publishes them once more
            log.warning("published events not cleared from the outbox", error=repr(exc))
        for (n, _), failed in zip(events, failures, strict=True):
            if failed is not None and results[n] is True:
                results[n] = failed
        return results

    async def _stored(self, writes: list[MailWrite]) -> list[WriteResult]:
        """The batch in one call; mail by mail when that call fails as a whole."""
        if not writes:
            return []
        try:
            return await self.store.write_mails(writes)
        except Exception as exc:
            if len(writes) == 1:
                return [exc]
            log.warning(
                "batch write failed, writing mail by mail", error=repr(exc), mails=len(writes)
            )
        outcomes = await asyncio.gather(*(self._one(w) for w in writes), return_exceptions=True)
        results: list[WriteResult] = []
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                raise outcome
            results.append(outcome)
        return results

    async def _one(self, write: MailWrite) -> bool:
        """The write with the single calls: what the batch does in one transaction, in turn."""
        for data in write.blobs:
            await self.store.put_blob(data)
        if isinstance(write, NewItem):
            if write.contact is not None:  # what the batch does in the item's transaction
                owner = await self.store.ensure_contact(write.contact)
                if owner.id != write.contact.id:
                    raise ContactClash(f"{write.contact.emails[0]} belongs to {owner.id} now")
            return await self.store.insert_item(
                write.item, write.message, write.events, log=write.log
            )
        return await self.store.append_message(
            write.item_id,
            write.message,
            write.events,
            add_participants=write.add_participants,
            count=write.count,
            changes=write.changes,
            log=write.log,
        )
