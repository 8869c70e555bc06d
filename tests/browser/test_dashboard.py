"""The dashboard in a real browser: the activity charts count the fixture's item and the mails
the real converter handled (one of them ignored), the queue table shows a dead letter sitting
in the broker, the account health mirrors the fetcher's account states, the panel is set to
reload itself every 30 seconds, and an agent key lands on the items and gets 403 here."""

import asyncio
import re
import time
from email.message import EmailMessage

import aio_pika
import pytest
from faststream.rabbit import RabbitBroker
from playwright.async_api import expect

from postroom_converter.domain.outcome import Ignored
from postroom_converter.service import Converter
from postroom_shared.apikeys import new_api_key
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.models import AccountState, ProcessingLogEntry, utcnow
from postroom_shared.retry import dead_letter_queue
from tests import factories
from tests.browser.conftest import DEMO, Console
from tests.integration.api_harness import KEY, SECRET
from tests.stack_env import StackEnv

pytestmark = [pytest.mark.stack, pytest.mark.browser]
QUEUE = "converter.mail.received.v1"


def _auto_reply() -> bytes:
    """An out-of-office answer that belongs to no item: the converter ignores it."""
    msg = EmailMessage()
    msg["From"] = "away@example.test"
    msg["To"] = "support@example.test"
    msg["Subject"] = "Out of office"
    msg["Message-ID"] = "<browser-away@example.test>"
    msg["Auto-Submitted"] = "auto-replied"
    msg.set_content("I am away until Monday.")
    return bytes(msg)


async def _ignore_one_mail(console: Console, stack: StackEnv) -> None:
    broker = RabbitBroker(stack.amqp_url)
    await broker.connect()
    try:
        converter = Converter(
            store=console.store, broker=broker, signer=MessageIdSigner(SECRET, "")
        )
        event = factories.mail_received("acc1/INBOX/1/2", _auto_reply())
        outcome = await converter.handle(event)
        assert isinstance(outcome, Ignored), outcome
    finally:
        await broker.stop()


async def _one_dead_letter(stack: StackEnv) -> None:
    """Exactly one message in the converter's dead-letter queue, put there over AMQP."""
    connection = await aio_pika.connect_robust(stack.amqp_url)
    async with connection:
        channel = await connection.channel()
        await (await channel.declare_queue(dead_letter_queue(QUEUE), passive=True)).purge()
        message = aio_pika.Message(b'{"not": "an event"}', message_id="dashboard-dead-1")
        await channel.default_exchange.publish(message, routing_key=dead_letter_queue(QUEUE))


async def test_the_dashboard_counts_activity_queues_and_account_health(
    console: Console, stack: StackEnv
) -> None:
    await _ignore_one_mail(console, stack)
    await _one_dead_letter(stack)
    store = console.store
    await store.put_account_state(AccountState(account_id=DEMO, last_success=utcnow()))
    await store.put_account_state(
        AccountState(account_id="acc1", status="error", last_error="connection refused")
    )
    page = console.page
    await page.goto(f"{console.url}/ui")  # the address `make run` prints
    await page.wait_for_url(re.compile(r"/ui/login$"))
    await console.sign_in()
    await page.wait_for_url(f"{console.url}/ui/dashboard")  # an admin key lands here
    item = await store.get_item(console.item_id)
    assert item is not None
    hour = item.created_at.strftime("%H:00 UTC")

    items = page.locator("#chart-items_created")
    await expect(items.locator(".total")).to_have_text("1")
    titles = await items.locator("svg rect title").all_text_contents()
    assert f"{hour}: 1 items" in titles, titles  # the item's hour has its one bar
    assert len(titles) == 24
    mails = page.locator("#chart-mails_received")
    await expect(mails.locator(".total")).to_have_text("2")  # the item's mail and the ignored one
    label = await mails.locator("svg").get_attribute("aria-label")
    assert label is not None and label.startswith("Mails received per hour, last 24 hours: 2")
    await expect(page.locator("#chart-replies_sent .total")).to_have_text("0")

    # the dead letter: queue statistics may lag a moment, and the panel reloads
    row = page.locator(f"#queue-{QUEUE.replace('.', '-')}")
    end = time.monotonic() + 20
    while (await row.locator(".dead-letters").inner_text()).strip() != "1":
        assert time.monotonic() < end, await row.inner_text()
        await asyncio.sleep(0.5)
        await page.reload()
    await expect(row.locator(".dead-letters a")).to_have_attribute("href", "/ui/dead-letters")
    print("queue row:", await row.inner_text())

    counts = page.locator("#health-counts")
    await expect(counts).to_contain_text("ok: 1")
    await expect(counts).to_contain_text("error: 1")
    await expect(counts).to_contain_text("needs re-authorisation: 0")
    await expect(page.locator(f"#health-{DEMO} .badge")).to_have_text("ok")
    await expect(page.locator("#health-acc1 .last-error")).to_have_text("connection refused")
    link = page.locator("#health-acc1 a")
    await expect(link).to_have_attribute("href", "/ui/accounts#account-acc1")

    panel = page.locator("#dashboard")
    await expect(panel).to_have_attribute("hx-trigger", "every 30s")
    await expect(page.locator("#updated")).to_contain_text("UTC")
    await console.shot("console-dashboard")
    await items.locator("summary").click()  # the same numbers as a table
    await expect(items.locator("table")).to_contain_text(hour)

    # the replier holds back an auto-reply; within 30 s the panel reloads itself and shows it
    first = await page.locator("#updated").inner_text()
    await store.put_log(
        ProcessingLogEntry(
            id="dashboard:replier:auto_reply_suppressed",
            mail_key="acc1/INBOX/1/2",
            account_id="acc1",
            stage="replier",
            action="auto_reply_suppressed",
            reason="away@example.test: auto_submitted",
        )
    )
    started = time.monotonic()
    await expect(page.locator("#chart-replies_suppressed .total")).to_have_text("1", timeout=40_000)
    print(f"the panel reloaded after {time.monotonic() - started:.1f} s")
    assert await page.locator("#updated").inner_text() != first

    await page.click("text=Last 7 days, by day")
    await expect(page.locator("#chart-items_created .total")).to_have_text("1")
    assert await page.locator("#chart-items_created svg rect").count() == 7
    await console.shot("console-dashboard-7d")


async def test_the_json_route_answers_the_same_counts(console: Console) -> None:
    answer = await console.page.request.get(
        f"{console.url}/v1/activity", headers={"Authorization": f"Bearer {KEY}"}
    )
    assert answer.status == 200, await answer.text()
    report = await answer.json()
    assert report["bucket"] == "hour" and len(report["starts"]) == 24
    assert report["totals"]["items_created"] == 1
    queues = await console.page.request.get(
        f"{console.url}/v1/queues", headers={"Authorization": f"Bearer {KEY}"}
    )
    assert queues.status == 200, await queues.text()
    assert QUEUE in [q["queue"] for q in await queues.json()]


async def test_an_agent_key_lands_on_items_and_gets_no_dashboard(console: Console) -> None:
    record, key = new_api_key("desk agent", ["agent"])
    await console.store.put_api_key(record)
    await console.sign_in(key)
    await console.page.wait_for_url(f"{console.url}/ui/items")
    assert await console.page.locator("nav >> text=Dashboard").count() == 0
    await console.page.goto(f"{console.url}/ui")
    await console.page.wait_for_url(f"{console.url}/ui/items")
    answer = await console.page.goto(f"{console.url}/ui/dashboard")
    assert answer is not None and answer.status == 403
    await expect(console.page.locator("[role=alert]")).to_contain_text("scope")
    assert await console.page.locator("#dashboard").count() == 0
    panel = await console.page.request.get(f"{console.url}/ui/dashboard/panel")
    assert panel.status == 403
    await console.shot("console-dashboard-agent")


async def test_a_read_key_lands_on_the_dashboard(console: Console) -> None:
    record, key = new_api_key("wallboard", ["read"])
    await console.store.put_api_key(record)
    await console.sign_in(key)
    await console.page.wait_for_url(f"{console.url}/ui/dashboard")
    await expect(console.page.locator("#chart-mails_received")).to_have_count(1)
    assert await console.page.locator("main form").count() == 0
    await console.page.goto(f"{console.url}/ui")  # the console's root leads here too
    await console.page.wait_for_url(f"{console.url}/ui/dashboard")
