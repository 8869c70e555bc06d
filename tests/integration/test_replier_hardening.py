"""The replier's hardening (issue 10) on real Postfix, Dovecot and RabbitMQ, on both stores:

- a hostile stored template still yields the built-in auto-reply, and the processing log says
  why (point 3);
- the global and per-domain automatic-mail budgets hold, counted from the stored send history,
  so a restarted replier or a second replica keeps them (point 16);
- the loop breaker: an address that got auto-replies to several new items within minutes gets
  no more, with `reply.suppressed.v1` `why=loop_breaker` (point 19).
"""

import asyncio
import imaplib
import json
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import pytest
from aio_pika import ExchangeType, connect_robust
from aio_pika.abc import AbstractQueue
from pydantic import SecretStr

from postroom_replier.service import Replier
from postroom_replier.settings import ReplierSettings
from postroom_shared.contracts import ItemCreatedV1
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.models import NotificationTemplate, Security, utcnow
from postroom_shared.runtime import make_broker
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store, open_store
from postroom_shared.topology import EVENTS, declare_topology
from tests import factories
from tests.integration.item_owner import ItemOwner, item_owner
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
SECRET = "h" * 40


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await open_store(store_url)
    await opened.put_account(factories.account())
    yield opened
    await opened.close()


@pytest.fixture
async def replies(stack: StackEnv) -> AsyncIterator[AbstractQueue]:
    """Every reply.* event published while the test runs."""
    conn = await connect_robust(stack.amqp_url)
    channel = await conn.channel()
    exchange = await channel.declare_exchange(EVENTS.name, ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="reply.#")
    yield queue
    await conn.close()


class Repliers:
    """Replier processes on one store: `start()` is a (re)started replier or another replica;
    the item's owner (the converter's command consumer) runs beside them."""

    def __init__(self, stack: StackEnv, store: Store, store_url: str) -> None:
        self.stack, self.store, self.store_url = stack, store, store_url
        self.started: list[Replier] = []
        self.running = AsyncExitStack()
        self.owner: ItemOwner | None = None

    async def start(self, **settings: Any) -> Replier:
        config = ReplierSettings(
            store_url=self.store_url,
            broker_url=self.stack.amqp_url,
            secret_key=SecretStr(SECRET),
            smtp_host="127.0.0.1",
            smtp_port=self.stack.smtp_port,
            smtp_security=Security.NONE,
            instance="test-hardening",
            **settings,
        )
        broker = make_broker(config)
        await broker.connect()
        await declare_topology(broker)
        replier = Replier(
            store=self.store,
            broker=broker,
            signer=MessageIdSigner(SECRET, "x"),
            secrets=SecretBox(SECRET),
            settings=config,
        )
        self.started.append(replier)
        if self.owner is None:
            self.owner = await self.running.enter_async_context(item_owner(config, self.store))
        return replier

    async def stop(self) -> None:
        for replier in self.started:
            await replier.aclose()
            await replier.broker.stop()
        await self.running.aclose()

    async def outbound(self, item_id: str, at_least: int = 0) -> list[str]:
        """Who got automatic mail about the item, by its thread (once the owner recorded it)."""
        assert self.owner is not None
        out = await self.owner.outbound(item_id, at_least=at_least)
        return [p.address for m in out for p in m.to]

    async def opened(
        self, replier: Replier, number: int, sender: str, **item: Any
    ) -> tuple[ItemCreatedV1, list[str]]:
        """A new item from `sender` answered by `replier`: its event and who got an auto-reply."""
        stored = await factories.stored_incident(
            factories.whole_store(replier.store), number, **item
        )
        event = factories.item_created(stored, number, sender)
        await replier.handle(event)
        return event, await self.outbound(stored.id)


@pytest.fixture
async def repliers(stack: StackEnv, store: Store, store_url: str) -> AsyncIterator[Repliers]:
    running = Repliers(stack, store, store_url)
    yield running
    await running.stop()


async def _suppressed(queue: AbstractQueue, about: list[ItemCreatedV1]) -> list[dict[str, Any]]:
    """The reply.suppressed.v1 events caused by `about`, once one arrived for each."""
    keys = {event.correlation_id for event in about}
    found: list[dict[str, Any]] = []
    end = time.monotonic() + 30
    while len(found) < len(keys) and time.monotonic() < end:
        message = await queue.get(timeout=5, fail=False)
        if message is None:
            await asyncio.sleep(0.1)
            continue
        await message.ack()
        body = json.loads(message.body)
        if body["type"] == "reply.suppressed.v1" and body["correlation_id"] in keys:
            found.append(body)
    return found


def _inbox_bodies(stack: StackEnv, user: str, message_id: str) -> list[str]:
    with imaplib.IMAP4("127.0.0.1", stack.imap_port) as imap:
        imap.login(user, user)
        imap.select("INBOX", readonly=True)
        _, hits = imap.search(None, "HEADER", "Message-ID", message_id)
        bodies = []
        for num in hits[0].split():
            _, data = imap.fetch(num.decode(), "(BODY.PEEK[])")
            raw = data[0][1] if isinstance(data[0], tuple) else b""
            bodies.append(raw.decode("utf-8", "replace"))
        return bodies


# --- point 3: a hostile stored template ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ('{{ "x" * 3000000000 }}', "repetition would be 3000000000 characters"),
        ("{{ 9 ** 99999999 }}", "'**' result over 4096 bits"),
        (
            '{% set s = "x" * 50000 ~ "y" %}{% set t = "x" * 99999 %}'
            "{% for i in range(99999) %}{% if s in t %}{% endif %}{% endfor %}",
            "longer than 1 s",
        ),
    ],
)
async def test_hostile_stored_template_still_sends_the_builtin_auto_reply(
    stack: StackEnv, repliers: Repliers, text: str, limit: str
) -> None:
    replier = await repliers.start(template_render_timeout_s=1.0)
    store = factories.whole_store(replier.store)
    await store.put_template(NotificationTemplate(id="hostile", name="Hostile", text=text))
    account = factories.account()
    account.auto_reply.template_id = "hostile"
    await store.put_account(account)
    started = time.monotonic()
    event, recipients = await repliers.opened(replier, 31, "customer@example.test")
    took = time.monotonic() - started
    assert recipients == ["customer@example.test"]
    assert repliers.owner is not None
    [out] = await repliers.owner.outbound(event.item.item_id, at_least=1)
    for _ in range(100):
        if bodies := _inbox_bodies(stack, "customer", out.message_id):
            break
        await asyncio.sleep(0.1)
    assert "This is an automatic reply." in bodies[0]  # the built-in template
    log = await store.list_log(mail_key=event.message.mail_key)
    [why] = [e for e in log if e.action == "auto_reply_template_failed"]
    assert "template hostile not used, the built-in one instead" in why.reason
    assert limit in why.reason, why.reason
    assert any(e.action == "auto_reply_sent" for e in log)
    print(f"hostile template {limit!r}: built-in auto-reply sent in {took:.2f} s")
    assert took < 30  # the first render worker's start included


# --- point 16: global and per-domain budgets -------------------------------------------------


async def test_global_budget_holds_across_a_restart(
    repliers: Repliers, replies: AbstractQueue
) -> None:
    first = await repliers.start(automail_max_per_hour=3)
    sent = [(await repliers.opened(first, 40 + n, f"user{n}@budget{n}.test"))[1] for n in range(3)]
    assert sent == [[f"user{n}@budget{n}.test"] for n in range(3)]
    # a restarted replier (or another replica) counts the same stored history
    second = await repliers.start(automail_max_per_hour=3)
    over, recipients = await repliers.opened(second, 43, "user3@budget3.test")
    assert recipients == []
    [event] = await _suppressed(replies, [over])
    assert event["why"].startswith("global_budget: 3 automatic mails in the last hour"), event
    assert event["recipient"] == "user3@budget3.test"


async def test_domain_budget_silences_one_domain_only(
    repliers: Repliers, replies: AbstractQueue
) -> None:
    replier = await repliers.start(automail_max_per_domain_per_hour=2)
    for n in range(2):
        assert (await repliers.opened(replier, 50 + n, f"p{n}@victim.test"))[1] == [
            f"p{n}@victim.test"
        ]
    over, recipients = await repliers.opened(replier, 52, "p2@victim.test")
    assert recipients == []
    _, elsewhere = await repliers.opened(replier, 53, "someone@elsewhere.test")
    assert elsewhere == ["someone@elsewhere.test"]
    [event] = await _suppressed(replies, [over])
    assert event["why"].startswith("domain_budget: 2 automatic mails to victim.test"), event


# --- point 19: the loop breaker --------------------------------------------------------------


async def test_loop_breaker_stops_auto_replies_to_an_address_opening_items(
    repliers: Repliers, replies: AbstractQueue, store: Store
) -> None:
    replier = await repliers.start()  # defaults: 3 answered new items in 10 min -> 1 h silence
    answered = [(await repliers.opened(replier, 60 + n, "bob@example.test"))[1] for n in range(3)]
    assert answered == [["bob@example.test"]] * 3
    held = [await repliers.opened(replier, 63 + n, "bob@example.test") for n in range(2)]
    assert [recipients for _, recipients in held] == [[], []]
    events = await _suppressed(replies, [event for event, _ in held])
    assert len(events) == 2
    for event in events:
        assert event["why"].startswith("loop_breaker: bob@example.test got auto-replies to 3")
        assert event["reason"] == "auto_reply"
    # another address is not affected, and a restarted replier keeps the silence
    assert (await repliers.opened(replier, 65, "alice@example.test"))[1] == ["alice@example.test"]
    restarted = await repliers.start()
    assert (await repliers.opened(restarted, 66, "bob@example.test"))[1] == []
    sent = await store.sends_since("bob@example.test", utcnow() - timedelta(hours=1))
    assert len(sent) == 3
