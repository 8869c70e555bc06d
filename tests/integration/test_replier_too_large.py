"""The too-large notice on the real stack: `mail.quarantined.v1` through RabbitMQ into the
replier as wired in production, the notice through Postfix into the sender's Dovecot INBOX,
once, loop-safe, and `reply.*` events that say what happened."""

import asyncio
import email
import imaplib
import json
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
from aio_pika import ExchangeType, connect_robust
from aio_pika.abc import AbstractChannel, AbstractQueue
from pydantic import SecretStr

from postroom_replier.app import register
from postroom_replier.settings import ReplierSettings
from postroom_shared.contracts import AddressV1, MailQuarantinedV1, deterministic_event_id
from postroom_shared.messaging import publish_event
from postroom_shared.runtime import make_broker
from postroom_shared.store import Store, open_store
from postroom_shared.topology import EVENTS, declare_topology
from tests import factories
from tests.integration.replier_stack import replier_settings
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
SECRET = "t" * 40
MB = 1024 * 1024


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = await open_store(store_url)
    loud = factories.account("acc_big", "support@example.test").model_copy(
        update={"max_mail_bytes": 10 * MB}
    )
    quiet = factories.account("acc_quiet", "alice@example.test").model_copy(
        update={"name": "Quiet", "tell_sender_when_too_large": False}
    )
    await opened.put_account(loud)
    await opened.put_account(quiet)
    yield opened
    await opened.close()


@pytest.fixture
async def replies(stack: StackEnv) -> AsyncIterator[AbstractQueue]:
    """Every reply.* event published while the test runs."""
    conn = await connect_robust(stack.amqp_url)
    channel: AbstractChannel = await conn.channel()
    exchange = await channel.declare_exchange(EVENTS.name, ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="reply.#")
    yield queue
    await conn.close()


@pytest.fixture
async def running(stack: StackEnv, store: Store, store_url: str) -> AsyncIterator[None]:
    """The replier's subscribers as `python -m postroom_replier` registers them, started."""
    settings = replier_settings(
        stack,
        store_url,
        instance="test-too-large",
        max_mail_bytes=8 * MB,  # the deployment's ceiling, below the account's own 10 MB
    )
    broker = make_broker(settings)
    background = [asyncio.create_task(loop) for loop in register(broker, store, settings)]
    await broker.connect()
    await declare_topology(broker)
    await broker.start()
    try:
        yield
    finally:
        await broker.stop()
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)


def _quarantined(
    account_id: str, sender: str | None, subject: str, *, too_large: bool = True, n: int = 0
) -> MailQuarantinedV1:
    key = f"{account_id}/INBOX/3/{uuid.uuid4().hex[:8]}"
    return MailQuarantinedV1(
        event_id=deterministic_event_id(key, "mail.quarantined.v1"),
        source="fetcher",
        correlation_id=key,
        account_id=account_id,
        mail_key=key,
        quarantine_id=f"q_{uuid.uuid4().hex[:20]}",
        reason="mail of 31457280 bytes is over the account's limit of 10485760",
        too_large=too_large,
        sender=AddressV1(address=sender, name="Casey") if sender else None,
        subject=subject,
        size=30 * MB + n,
    )


async def _publish(stack: StackEnv, event: MailQuarantinedV1) -> None:
    settings = ReplierSettings(
        store_url="sqlite:///unused", broker_url=stack.amqp_url, secret_key=SecretStr(SECRET)
    )
    broker = make_broker(settings)
    await broker.connect()
    try:
        await publish_event(broker, event)
    finally:
        await broker.stop()


async def _events(
    queue: AbstractQueue, about: list[MailQuarantinedV1], count: int, timeout_s: float = 30
) -> list[dict[str, Any]]:
    """The first `count` reply events caused by `about` (leftovers of other tests ignored)."""
    keys = {event.correlation_id for event in about}
    found: list[dict[str, Any]] = []
    end = asyncio.get_running_loop().time() + timeout_s
    while len(found) < count and asyncio.get_running_loop().time() < end:
        message = await queue.get(timeout=5, fail=False)
        if message is None:
            await asyncio.sleep(0.1)
            continue
        await message.ack()
        if (body := json.loads(message.body))["correlation_id"] in keys:
            found.append(body)
    return found


def _mail_with_subject(stack: StackEnv, user: str, subject: str) -> list[EmailMessage]:
    with imaplib.IMAP4("127.0.0.1", stack.imap_port) as imap:
        imap.login(user, user)
        imap.select("INBOX", readonly=True)
        _, hits = imap.search(None, "SUBJECT", f'"{subject}"')
        found = []
        for num in hits[0].split():
            _, data = imap.fetch(num.decode(), "(BODY.PEEK[])")
            raw = data[0][1] if isinstance(data[0], tuple) else b""
            message = email.message_from_bytes(raw, policy=default_policy)
            assert isinstance(message, EmailMessage)
            found.append(message)
        return found


async def _arrived(stack: StackEnv, user: str, subject: str, count: int) -> list[EmailMessage]:
    for _ in range(100):
        if len(found := _mail_with_subject(stack, user, subject)) >= count:
            break
        await asyncio.sleep(0.1)
    return found


async def test_sender_is_told_once_with_every_loop_safety_header(
    stack: StackEnv, store: Store, running: None, replies: AbstractQueue
) -> None:
    tag = uuid.uuid4().hex[:8]
    event = _quarantined("acc_big", "customer@example.test", f"Big scan {tag}")
    await _publish(stack, event)
    [sent] = await _events(replies, [event], 1)
    assert sent["type"] == "reply.sent.v1" and sent["notice"] == "too_large"
    assert sent["reason"] == "auto_reply" and sent["item_id"] == event.quarantine_id
    assert sent["recipient"] == "customer@example.test"
    assert sent["causation_id"] == str(event.event_id)
    [notice] = await _arrived(stack, "customer", tag, 1)
    assert str(notice["Subject"]) == f"Not processed (too large): Big scan {tag}"
    assert notice["Auto-Submitted"] == "auto-replied"
    assert notice["X-Auto-Response-Suppress"] == "All"
    assert notice["X-Postroom-Loop"] == "test-too-large"
    assert notice["Message-ID"] == sent["message_id"]
    assert "support@example.test" in str(notice["From"])
    body = notice.get_body(("plain",))
    assert body is not None
    text = str(body.get_content())
    # the limit that applied: the smaller of the account's (10 MB) and the ceiling (8 MB)
    assert f"your mail 'Big scan {tag}' of 30 MB exceeds the limit of 8 MB" in text
    assert "was not processed" in text

    # the same event again (a redelivery, a second fetcher): the ledger says sent, no new mail
    await _publish(stack, event)
    [again] = await _events(replies, [event], 1)
    assert again["event_id"] == sent["event_id"] and again["message_id"] == sent["message_id"]
    await asyncio.sleep(1.0)
    assert len(_mail_with_subject(stack, "customer", tag)) == 1
    ledger = await store.get_ledger(event.quarantine_id, "too_large", "customer@example.test")
    assert ledger is not None and ledger.state == "sent"
    [logged] = await store.list_log(mail_key=event.mail_key)  # the processing log, once
    assert (logged.stage, logged.action) == ("replier", "too_large_notice_sent")
    assert logged.reason.startswith("customer@example.test: 2.0.0 Ok: queued")

    # the same mail sent again (a new quarantine entry): the identical notice is not repeated
    resent = _quarantined("acc_big", "customer@example.test", f"Big scan {tag}")
    await _publish(stack, resent)
    [limited] = await _events(replies, [resent], 1)
    assert limited["type"] == "reply.suppressed.v1" and limited["notice"] == "too_large"
    assert "identical" in limited["why"]


async def test_no_notice_where_the_rules_say_no(
    stack: StackEnv, store: Store, running: None, replies: AbstractQueue
) -> None:
    tag = uuid.uuid4().hex[:8]
    cases = [
        (_quarantined("acc_quiet", "bob@example.test", f"a {tag}"), "does not tell senders"),
        (_quarantined("acc_big", "noreply@example.test", f"b {tag}"), "no-reply"),
        (_quarantined("acc_big", "MAILER-DAEMON@example.test", f"c {tag}"), "daemon"),
        (_quarantined("acc_big", "alice@example.test", f"d {tag}"), "our own addresses"),
        (_quarantined("acc_big", None, f"e {tag}"), "no usable sender"),
        (
            _quarantined("acc_big", "bob@example.test", f"Undelivered Mail Returned {tag}"),
            "looks automatic",
        ),
    ]
    for event, _ in cases:
        await _publish(stack, event)
    events = await _events(replies, [e for e, _ in cases], len(cases))
    by_id = {e["item_id"]: e for e in events}
    for event, why in cases:
        decided = by_id[event.quarantine_id]
        assert decided["type"] == "reply.suppressed.v1", decided
        assert decided["notice"] == "too_large" and why in decided["why"], decided
        [logged] = await store.list_log(mail_key=event.mail_key)
        assert logged.action == "too_large_notice_suppressed" and why in logged.reason
    # not about size: none of the replier's business, no event at all
    other = _quarantined("acc_big", "bob@example.test", f"f {tag}", too_large=False)
    await _publish(stack, other)
    assert await _events(replies, [other], 1, timeout_s=3) == []
    await asyncio.sleep(0.5)
    for user in ("bob", "alice"):
        assert _mail_with_subject(stack, user, tag) == []
