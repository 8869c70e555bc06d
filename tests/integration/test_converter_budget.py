"""The converter on a real broker with a mail over its analysis budget (issue 10, point 1):
quarantined `too_slow` at its first delivery, without retries, while the next mail is converted
and the event loop (the broker connection's heartbeat) keeps running.

Every pattern is linear now, so the slow mail is simply a large one under a small budget: 20 MB
of HTML nested 200 deep (a few seconds of honest work here), stored as a blob like every large
mail, against a budget of a quarter second.
"""

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from email.message import EmailMessage

import pytest
from aio_pika import connect_robust
from aio_pika.abc import AbstractChannel
from pydantic import SecretStr

from postroom_converter.app import register
from postroom_converter.domain.outcome import Quarantined
from postroom_converter.service import Converter
from postroom_converter.settings import ConverterSettings
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.models import EmailAccount, MailboxSettings, QuarantineEntry
from postroom_shared.runtime import make_broker
from postroom_shared.store import Store, open_store
from postroom_shared.topology import EVENTS, declare_topology
from tests import factories
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
SECRET = "d" * 40
BUDGET_S = 0.25
SLOW = (
    b"From: Mallory <mallory@example.org>\r\nTo: support@example.test\r\nSubject: deep\r\n"
    b"Message-ID: <deep@example.org>\r\nContent-Type: text/html\r\n\r\n"
    + (b"<div>" * 200 + b"x" + b"</div>" * 200)
    * 9_000
)


def _ordinary() -> bytes:
    mail = EmailMessage()
    mail["From"] = "Casey <customer@example.test>"
    mail["To"] = "support@example.test"
    mail["Subject"] = "Printer"
    mail["Message-ID"] = "<printer@example.test>"
    mail.set_content("on fire")
    return mail.as_bytes()


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await open_store(store_url)
    await opened.put_account(
        EmailAccount(
            id="acc1",
            name="Support",
            address="support@example.test",
            project="Support",
            mailbox=MailboxSettings(host="h", port=1, username="support@example.test"),
        )
    )
    yield opened
    await opened.close()


@pytest.fixture
async def channel(stack: StackEnv) -> AsyncIterator[AbstractChannel]:
    conn = await connect_robust(stack.amqp_url)
    yield await conn.channel()
    await conn.close()


@pytest.mark.timeout(180)
async def test_too_slow_mail_is_quarantined_and_the_next_mail_is_not_stalled(
    stack: StackEnv,
    store: Store,
    store_url: str,
    channel: AbstractChannel,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = ConverterSettings(
        store_url=store_url,
        broker_url=stack.amqp_url,
        secret_key=SecretStr(SECRET),
        parse_budget_s=BUDGET_S,
        parse_workers=1,  # one worker: the next mail has to wait for it to be replaced
    )
    broker = make_broker(settings)
    for loop in register(broker, store, settings):
        loop.close()  # the outbox relay loop is not under test here
    await broker.connect()
    await declare_topology(broker)
    dlq = await channel.declare_queue("converter.mail.received.v1.dlq", passive=True)
    await dlq.purge()
    await (await channel.declare_queue("converter.mail.received.v1", passive=True)).purge()
    beats: list[float] = []

    async def heartbeat() -> None:
        while True:
            beats.append(time.perf_counter())
            await asyncio.sleep(0.02)

    await broker.start()
    beating = asyncio.create_task(heartbeat())
    try:
        slow = factories.mail_received("acc1/INBOX/9/1", SLOW).model_copy(
            update={"raw_inline": None, "blob_ref": await store.put_blob(SLOW)}
        )
        quick = factories.mail_received("acc1/INBOX/9/2", _ordinary())
        published = time.perf_counter()
        for event in (slow, quick):
            await broker.publish(
                event, exchange=EVENTS, routing_key="mail.received.v1", persist=True
            )

        async def settled() -> tuple[QuarantineEntry, float, float]:
            entry, quarantined_at, created_at = None, 0.0, 0.0
            while entry is None or not created_at:
                if entry is None and (entries := await store.list_quarantine()):
                    entry, quarantined_at = entries[0], time.perf_counter() - published
                if not created_at and await store.list_items():
                    created_at = time.perf_counter() - published
                await asyncio.sleep(0.05)
            return entry, quarantined_at, created_at

        entry, quarantined_s, created_s = await asyncio.wait_for(settled(), timeout=60)
        gap = max(later - earlier for earlier, later in itertools.pairwise(beats))
    finally:
        beating.cancel()
    try:
        print(
            f"too_slow quarantine after {quarantined_s:.2f} s, next mail's item after"
            f" {created_s:.2f} s, longest event-loop gap {gap * 1000:.0f} ms"
        )
        assert entry.mail_key == slow.mail_key
        assert entry.reason.startswith("too_slow")
        assert entry.attempts == 1, "deterministic: no retries"
        assert quarantined_s < BUDGET_S + 15
        assert created_s < BUDGET_S + 20
        assert gap < 1.0, f"the converter's event loop stood still for {gap:.2f} s"
        (item,) = await store.list_items()
        assert item.title == "Printer"
        log = await store.list_log(mail_key=slow.mail_key)
        assert [(e.action, e.reason.split(":")[0]) for e in log] == [("quarantined", "too_slow")]
        assert await dlq.get(timeout=2, fail=False) is None

        # Reprocessing (API and CLI call this) gets the same budget: it stays quarantined.
        monkeypatch.setenv("POSTROOM_PARSE_BUDGET_S", str(BUDGET_S))
        converter = Converter(store=store, broker=broker, signer=MessageIdSigner(SECRET, ""))
        outcome = await converter.reprocess(entry.id)
        assert isinstance(outcome, Quarantined) and outcome.reason.startswith("too_slow")
        again = await store.get_quarantine(entry.id)
        assert again is not None
        assert again.attempts == 2
    finally:
        await broker.stop()
