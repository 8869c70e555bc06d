"""What the converter's store calls cost per mail on SQLite, the way round 2 made them against
the way round 3 makes them (issue 15): the store side of `group_commit.py` alone, without the
broker, the analysis or the consumer, so that the difference holds on a busy machine.

Per mail (a new item from a new sender, a raw mail of the bench corpus' average size, one
auto-reply recorded on its thread afterwards), in batches of `--batch` mails side by side:

- round 2: `put_blob` (the raw mail's row, a statement of its own) and `ensure_contact` (a
  transaction of its own) per mail, then the batch's `items_for_mails`, `next_item_numbers`,
  `write_mails`, `mark_all_published`; per auto-reply one `append_message` (a transaction of
  its own for each `item.record_sent_mail.v1`);
- round 3: `find_person` per mail (a read), the same batch calls with each mail's raw bytes and
  contact inside `write_mails` (one transaction), and the auto-replies' appends as one more
  `write_mails` for the batch.

CPU is this process's own (user + system, every thread, `time.process_time`); both patterns
run alternately on stores of their own, `--rounds` times each.

    .venv/bin/python bench/bench_converter_writes.py [--mails 2000] [--batch 10] [--rounds 3]
"""

import argparse
import asyncio
import hashlib
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from postroom_shared.models import Item, ItemType, Party, Person, ThreadMessage, utcnow
from postroom_shared.store import OutboxEvent, Store, open_store
from postroom_shared.store.ports import AppendedMessage, MailWrite, NewItem
from postroom_shared.store.ports.blobs import blob_ref

RAW_BYTES = 8_800  # the bench corpus' average raw mail (docs/decisions.md, "Raw mail on the wire")

type Pattern = Callable[[Store, list["Mail"]], Awaitable[None]]


class Mail:
    """One mail of the batch: its raw bytes, the item it opens, its sender's contact."""

    def __init__(self, n: int) -> None:
        self.raw = os.urandom(RAW_BYTES)
        self.ref = blob_ref(hashlib.sha256(self.raw).hexdigest())
        self.key = f"acc1/INBOX/1/{n}-{uuid.uuid4().hex[:8]}"
        address = f"sender{n}-{uuid.uuid4().hex[:6]}@customers.test"
        self.contact = Person(id=f"ct_{uuid.uuid4().hex[:16]}", kind="contact", emails=[address])
        self.item = Item(
            id=f"it_{uuid.uuid4().hex[:12]}",
            item_type=ItemType.INCIDENT,
            number=n,
            project="Support",
            account_id="acc1",
            title=f"Printer {n}",
            requester=Party(address=address),
            requester_id=self.contact.id,
            message_count=1,
        )
        self.event = OutboxEvent(
            event_id=str(uuid.uuid4()), routing_key="item.created.v1", body='{"x": 1}' * 60
        )

    def message(self) -> ThreadMessage:
        return ThreadMessage(
            key=self.key,
            item_id=self.item.id,
            account_id="acc1",
            direction="in",
            message_id=f"<{self.key}@customers.test>",
            subject=self.item.title,
            text="on fire " * 40,
            blob_ref=self.ref,
        )

    def sent(self) -> AppendedMessage:
        """The auto-reply's entry, as `commands/sent_mail.py` writes it."""
        message = ThreadMessage(
            key=f"out:<reply-{self.key}@example.test>",
            item_id=self.item.id,
            account_id="acc1",
            direction="out",
            message_id=f"<reply-{self.key}@example.test>",
            subject=f"Re: {self.item.title}",
            kind="auto_reply",
            created_at=utcnow(),
        )
        return AppendedMessage(self.item.id, message, [], add_participants=[])


async def _common(store: Store, mails: list[Mail], writes: list[MailWrite]) -> None:
    await store.items_for_mails([m.key for m in mails])
    await store.next_item_numbers(ItemType.INCIDENT, len(mails))
    assert all(r is True for r in await store.write_mails(writes))
    await store.mark_all_published([m.event.event_id for m in mails])


async def round2(store: Store, mails: list[Mail]) -> None:
    await asyncio.gather(*(store.put_blob(m.raw) for m in mails))
    await asyncio.gather(*(store.ensure_contact(m.contact) for m in mails))
    await _common(store, mails, [NewItem(m.item, m.message(), [m.event]) for m in mails])
    for m in mails:
        sent = m.sent()
        await store.append_message(sent.item_id, sent.message, [], add_participants=[])


async def round3(store: Store, mails: list[Mail]) -> None:
    await asyncio.gather(*(store.find_person(m.contact.emails[0]) for m in mails))
    writes: list[MailWrite] = [
        NewItem(m.item, m.message(), [m.event], contact=m.contact, blobs=(m.raw,)) for m in mails
    ]
    await _common(store, mails, writes)
    assert all(r is True for r in await store.write_mails([m.sent() for m in mails]))


async def _measure(pattern: Pattern, *, mails: int, batch: int) -> float:
    """CPU ms per mail of `pattern` over `mails` mails on a fresh SQLite store."""
    with tempfile.TemporaryDirectory(prefix="pr-bench-writes-") as root:
        store = await open_store(f"sqlite:///{Path(root) / 'db' / 'postroom.db'}")
        try:
            batches = [[Mail(n) for n in range(s, s + batch)] for s in range(1, mails + 1, batch)]
            started = time.process_time()
            for group in batches:
                await pattern(store, group)
            return (time.process_time() - started) * 1000 / mails
        finally:
            await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"store CPU ms per mail, {args.mails} mails in batches of {args.batch} (SQLite, WAL)")
    figures: dict[str, list[float]] = {"round 2": [], "round 3": []}
    for _ in range(args.rounds):
        for name, pattern in (("round 2", round2), ("round 3", round3)):
            figures[name].append(await _measure(pattern, mails=args.mails, batch=args.batch))
    for name, runs in figures.items():
        each = " ".join(f"{ms:.3f}" for ms in runs)
        print(f"{name}: median {statistics.median(runs):.3f}  (runs: {each})")


if __name__ == "__main__":
    asyncio.run(main())
