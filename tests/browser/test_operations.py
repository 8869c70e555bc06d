"""The Operations screens in a real browser: the processing log says in words why a mail the
converter ignored did nothing and downloads its raw mail byte for byte; a quarantined mail is
reprocessed from its page (and one that fails again stays) and another discarded after a
confirmation; dead letters a real consumer parked are listed, shown, replayed and purged on the
stack's RabbitMQ. Read keys see the log and the quarantine without buttons; dead letters are
for admins only, like `/v1/deadletters`."""

import asyncio
import hashlib
import json
import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from aio_pika import Message, connect_robust
from playwright.async_api import Route, expect
from pydantic import SecretStr

from postroom_api.console.log_pages import PAGE_SIZE
from postroom_converter.domain.outcome import Ignored, Quarantined
from postroom_converter.service import Converter
from postroom_shared.apikeys import new_api_key
from postroom_shared.consumer import subscribe
from postroom_shared.contracts import MailQuarantinedV1
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.models import ProcessingLogEntry, QuarantineEntry
from postroom_shared.retry import RetryPolicy, dead_letter_queue
from postroom_shared.runtime import make_broker
from postroom_shared.settings import CommonSettings
from postroom_shared.topology import EVENTS, consumer_queue
from tests import factories
from tests.browser.conftest import DEMO, Console
from tests.integration.api_harness import KEY, SECRET
from tests.integration.test_api_quarantine import DEEP  # over the MIME nesting cap
from tests.stack_env import StackEnv

pytestmark = [pytest.mark.stack, pytest.mark.browser]

FINE = (
    b"From: Ann <ann@example.org>\r\nSubject: Lost once\r\nMessage-ID: <ops-f@x>\r\n\r\nhello\r\n"
)
QUEUE = "replier.mail.quarantined.v1"  # no replier runs here: only our poisoned consumer


AUTO_REPLY = (
    b"From: Casey Customer <customer@example.test>\r\nTo: support@example.test\r\n"
    b"Subject: Your message was received\r\nMessage-ID: <ops-away-1@example.test>\r\n"
    b"Auto-Submitted: auto-replied\r\n\r\nWe got your message and will answer soon.\r\n"
)


async def _converter(console: Console, stack: StackEnv) -> AsyncIterator[Converter]:
    broker = make_broker(
        CommonSettings(
            store_url="sqlite:///unused", broker_url=stack.amqp_url, secret_key=SecretStr(SECRET)
        )
    )
    await broker.connect()
    try:
        yield Converter(store=console.store, broker=broker, signer=MessageIdSigner(SECRET, ""))
    finally:
        await broker.stop()


@pytest.fixture
async def converter(console: Console, stack: StackEnv) -> AsyncIterator[Converter]:
    async for made in _converter(console, stack):
        yield made


async def _slowly(route: Route) -> None:
    """Hold a request long enough to see its progress for certain."""
    await asyncio.sleep(0.7)
    await route.continue_()


def _csp_watch(console: Console) -> list[str]:
    """What the browser says on its console: a CSP violation (inline script or style) shows
    up there."""
    said: list[str] = []
    console.page.on("console", lambda message: said.append(message.text))
    return said


async def _operations(console: Console, label: str, path: str) -> None:
    """Open an Operations screen the way a person does: the menu, then the link."""
    await console.page.click("nav summary:has-text('Operations')")
    await console.page.click(f"nav >> text={label}")
    await console.page.wait_for_url(f"{console.url}{path}")


async def test_the_log_says_why_an_auto_reply_did_nothing_and_downloads_it(
    console: Console, converter: Converter, tmp_path: Path
) -> None:
    raw = AUTO_REPLY
    outcome = await converter.handle(factories.mail_received("acc1/INBOX/1/50", raw))
    assert isinstance(outcome, Ignored), outcome
    await console.sign_in()
    await _operations(console, "Processing log", "/ui/log")
    page = console.page
    row = page.locator("tr.log-entry", has_text="acc1/INBOX/1/50")
    await expect(row.locator(".sentence")).to_have_text(
        "Ignored: it is an automatic reply that answers none of our items, so nobody is"
        " asking for anything and no item was opened (seen: Auto-Submitted: auto-replied)."
    )
    await expect(row).to_contain_text("rule: auto-submitted")
    created = page.locator("tr.log-entry", has_text="acc1/INBOX/1/1")
    await expect(created.locator(".sentence")).to_contain_text("Opened item")
    await expect(created.locator(f"a[href='/ui/items/{console.item_id}']")).to_be_visible()
    await console.shot("console-log")

    async with page.expect_download() as started:
        await row.locator("a.raw").click()
    download = await started.value
    saved = tmp_path / "mail.eml"
    await download.save_as(saved)
    assert await asyncio.to_thread(saved.read_bytes) == raw
    print(f"downloaded {download.suggested_filename}: {len(raw)} bytes, identical")
    answer = await page.request.get(
        f"{console.url}/ui/log/raw", params={"mail_key": "acc1/INBOX/1/50"}
    )
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert answer.headers["content-type"] == "message/rfc822"

    # the account's tab: only its entries, and the filters the route has
    await page.goto(f"{console.url}/ui/accounts/acc1/log")
    await expect(page.locator("nav.tabs a[aria-current=page]")).to_have_text("Processing log")
    await page.fill("#mail_key", "acc1/INBOX/1/50")
    await page.click("#log-filters button[type=submit]")
    await expect(page.locator("tr.log-entry")).to_have_count(1)
    await expect(page.locator("tr.log-entry .sentence")).to_contain_text("automatic reply")
    await console.shot("console-account-log")
    await page.fill("#since", "2030-01-01T00:00:00")
    await page.fill("#until", "2029-01-01T00:00:00")
    await page.click("#log-filters button[type=submit]")
    await expect(page.locator("#until-error")).to_have_text("is before since")


async def test_the_log_pages_back_in_time(console: Console) -> None:
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    for n in range(PAGE_SIZE + 5):
        await console.store.put_log(
            ProcessingLogEntry(
                id=f"paging-{n}",
                mail_key=f"{DEMO}/INBOX/9/{n}",
                account_id=DEMO,
                stage="converter",
                action="ignored",
                reason="our own mail came back: X-Postroom-Loop present",
                at=start + timedelta(minutes=n),
            )
        )
    await console.sign_in()
    page = console.page
    await page.goto(f"{console.url}/ui/accounts/{DEMO}/log")
    rows = page.locator("tr.log-entry")
    await expect(rows).to_have_count(PAGE_SIZE)
    await expect(rows.first).to_contain_text(f"{DEMO}/INBOX/9/{PAGE_SIZE + 4}")  # newest first
    await page.click("#older")
    await expect(rows).to_have_count(5)
    await expect(rows.last).to_contain_text(f"{DEMO}/INBOX/9/0")
    await expect(rows.first.locator(".sentence")).to_contain_text("a mail loop")
    await expect(page.locator("#older")).to_have_count(0)


async def test_a_quarantined_mail_is_reprocessed_and_another_discarded(
    console: Console, converter: Converter
) -> None:
    deep = await converter.handle(factories.mail_received("acc1/INBOX/1/60", DEEP))
    assert isinstance(deep, Quarantined), deep
    (deep_id,) = [e.id for e in await console.store.list_quarantine() if e.mail_key.endswith("/60")]
    event = factories.mail_received("acc1/INBOX/1/61", FINE)  # a since-fixed bug's victim
    blob_ref = await console.store.put_blob(FINE)
    fine_id = "q_" + hashlib.sha256(event.mail_key.encode()).hexdigest()[:20]
    await console.store.put_quarantine(
        QuarantineEntry(
            id=fine_id,
            account_id="acc1",
            mail_key=event.mail_key,
            reason="failed repeatedly: RuntimeError('bug')",
            blob_ref=blob_ref,
            event=event.model_copy(
                update={"raw_inline": None, "blob_ref": blob_ref}
            ).model_dump_json(),
        )
    )
    said = _csp_watch(console)
    await console.sign_in()
    await _operations(console, "Quarantine", "/ui/quarantine")
    page = console.page
    fine_row = page.locator(f"#q-{fine_id}")
    await expect(fine_row).to_contain_text("Lost once")
    await expect(fine_row).to_contain_text("Ann <ann@example.org>")
    await expect(fine_row.locator(".badge")).to_have_text("failed on every try")
    deep_row = page.locator(f"#q-{deep_id}")
    await expect(deep_row).to_contain_text("a@example.org")
    await expect(deep_row.locator(".badge")).to_have_text("over a structural limit")
    await console.shot("console-quarantine")

    await fine_row.locator("a").click()
    await expect(page.locator("#reason")).to_contain_text("RuntimeError('bug')")
    await expect(page.locator("#headers")).to_contain_text("Lost once")
    await page.route(re.compile(r"/ui/quarantine/[^/]+/reprocess$"), _slowly)
    await page.click("#reprocess")
    await expect(page.locator("#reprocess-busy")).to_be_visible()  # progress while it runs
    await expect(page.locator("#reprocess")).to_be_disabled()
    answer = page.locator("#reprocessed")
    await expect(answer).to_contain_text("Reprocessed: created", timeout=20_000)
    await expect(page.locator("#reprocess-busy")).to_be_hidden()
    await console.shot("console-quarantine-reprocessed")
    await page.click("#new-item")
    await expect(page.locator("h1")).to_contain_text("Lost once")
    assert await console.store.get_quarantine(fine_id) is None

    await page.goto(f"{console.url}/ui/quarantine")
    await page.locator(f"#q-{deep_id} a").click()
    async with page.expect_download() as started:
        await page.click("#raw")
    downloaded = Path(await (await started.value).path())
    assert await asyncio.to_thread(downloaded.read_bytes) == DEEP
    await page.click("#reprocess")
    await expect(answer).to_contain_text("Still quarantined (quarantined: MIME nesting")
    await console.shot("console-quarantine-entry")
    again = await console.store.get_quarantine(deep_id)
    assert again is not None and again.attempts == 2

    await page.click("#discard")
    await expect(page.locator("h1")).to_have_text("Discard this quarantined mail?")
    assert await console.store.get_quarantine(deep_id) is not None  # not before the confirmation
    await console.shot("console-quarantine-discard")
    await page.click("#confirm-discard")
    await expect(page.locator("#discarded")).to_contain_text(f"Discarded {deep_id}")
    assert await console.store.get_quarantine(deep_id) is None
    assert not [text for text in said if "Content Security Policy" in text], said


async def test_a_read_key_reads_the_log_and_quarantine_but_not_dead_letters(
    console: Console, converter: Converter
) -> None:
    deep = await converter.handle(factories.mail_received("acc1/INBOX/1/70", DEEP))
    assert isinstance(deep, Quarantined)
    (entry,) = [e for e in await console.store.list_quarantine() if e.mail_key.endswith("/70")]
    record, key = new_api_key("ops-dashboard", ["read"])
    await console.store.put_api_key(record)
    await console.sign_in(key)
    page = console.page
    await page.goto(f"{console.url}/ui/quarantine/{entry.id}")
    await expect(page.locator("#reason")).to_contain_text("MIME nesting")
    assert await page.locator("main button").count() == 0
    assert await page.locator("#discard").count() == 0
    forced = await page.request.post(
        f"{console.url}/ui/quarantine/{entry.id}/discard",
        form={"csrf_token": await console.csrf()},
        max_redirects=0,
    )
    assert forced.status == 403
    assert await console.store.get_quarantine(entry.id) is not None
    await page.goto(f"{console.url}/ui/log")
    await expect(page.locator("tr.log-entry").first).to_be_visible()
    refused = await page.goto(f"{console.url}/ui/dead-letters")
    assert refused is not None and refused.status == 403
    agent, agent_key = new_api_key("ops-agent", ["agent"])
    await console.store.put_api_key(agent)
    await console.sign_in(agent_key)
    for path in (
        "/ui/log",
        "/ui/quarantine",
        f"/ui/quarantine/{entry.id}",
        "/ui/log/raw?mail_key=x",
    ):
        answer = await page.goto(f"{console.url}{path}")
        assert answer is not None and answer.status == 403, path


class Poisoner:
    """A consumer of QUEUE as the services run one (`postroom_shared.consumer.subscribe`): a
    body that is no valid event goes straight to the queue's DLQ."""

    def __init__(self, stack: StackEnv, url: str) -> None:
        self.stack, self.url = stack, url

    async def poison(self, count: int) -> list[str]:
        settings = CommonSettings(
            store_url="sqlite:///unused",
            broker_url=self.stack.amqp_url,
            secret_key=SecretStr(SECRET),
        )
        broker = make_broker(settings)

        async def never(event: MailQuarantinedV1, final_attempt: bool) -> None:
            raise AssertionError("a poisoned body is never a valid event")

        subscribe(
            broker,
            consumer_queue("replier", "mail.quarantined.v1"),
            EVENTS,
            MailQuarantinedV1,
            never,
            RetryPolicy(),
        )
        ids = [str(uuid.uuid4()) for _ in range(count)]
        connection = await connect_robust(self.stack.amqp_url)
        async with connection:
            channel = await connection.channel()
            # letters replayed before wait there: the consumer would kill them again
            await (await channel.declare_queue(QUEUE, passive=True)).purge()
            await broker.start()
            try:
                for message_id in ids:
                    body = json.dumps({"poison": "<b>not an event</b>", "id": message_id}).encode()
                    await channel.default_exchange.publish(
                        Message(body, message_id=message_id, type="mail.quarantined.v1"),
                        routing_key=QUEUE,
                    )
                await self.wait_for(count)
            finally:
                await broker.stop()  # replayed letters then wait in QUEUE instead of dying again
        return ids

    async def waiting(self, count: int) -> None:
        """Wait until QUEUE holds `count` messages (the replayed ones; its statistics lag)."""
        connection = await connect_robust(self.stack.amqp_url)
        async with connection:
            channel = await connection.channel()
            end = time.monotonic() + 20
            while time.monotonic() < end:
                queue = await channel.declare_queue(QUEUE, passive=True)
                if queue.declaration_result.message_count == count:
                    return
                await asyncio.sleep(0.3)
        raise AssertionError(f"{QUEUE} never held {count} replayed message(s)")

    async def wait_for(self, count: int) -> None:
        end = time.monotonic() + 30
        async with httpx.AsyncClient(
            base_url=self.url, headers={"Authorization": f"Bearer {KEY}"}
        ) as api:
            while time.monotonic() < end:
                page = (await api.get(f"/v1/deadletters/{QUEUE}")).json()
                if page["count"] == count:
                    return
                await asyncio.sleep(0.3)
        raise AssertionError(f"{dead_letter_queue(QUEUE)} never held {count} message(s)")


@pytest.fixture
async def poisoner(console: Console, stack: StackEnv) -> AsyncIterator[Poisoner]:
    connection = await connect_robust(stack.amqp_url)
    async with connection:
        channel = await connection.channel()

        async def empty() -> None:
            for name in (QUEUE, dead_letter_queue(QUEUE)):
                await (await channel.declare_queue(name, passive=True)).purge()

        await empty()
        try:
            yield Poisoner(stack, console.url)
        finally:
            await empty()


async def test_dead_letters_are_listed_shown_replayed_and_purged(
    console: Console, poisoner: Poisoner
) -> None:
    (first,) = await poisoner.poison(1)
    said = _csp_watch(console)
    await console.sign_in()
    await _operations(console, "Dead letters", "/ui/dead-letters")
    page = console.page
    row = page.locator(f"#queue-{QUEUE.replace('.', '-')}")
    await expect(row.locator(".count")).to_have_text("1", timeout=20_000)  # statistics lag
    await console.shot("console-dead-letters")
    await row.locator("a").click()
    letter = page.locator("tr.dead-letter")
    await expect(letter).to_have_count(1)
    await expect(letter).to_contain_text("not a valid MailQuarantinedV1")
    await expect(letter.locator(".excerpt")).to_contain_text('"poison": "<b>not an event</b>"')
    await expect(letter.locator("b")).to_have_count(0)  # shown as text, never as markup
    await console.shot("console-dead-letter-queue")
    await letter.locator(f"a:has-text('{first}')").click()
    await expect(page.locator("#body")).to_contain_text(first)
    await expect(page.locator("#reason")).to_contain_text("failed on try 1")
    await console.shot("console-dead-letter")
    await page.click("#replay")
    await expect(page.locator("#replayed")).to_have_text(f"Replayed 1 message back to {QUEUE}.")
    await page.goto(f"{console.url}/ui/dead-letters/{QUEUE}")
    await expect(page.locator("#count")).to_have_text("0 dead letters.")
    await poisoner.waiting(1)  # back in its consumer queue

    await poisoner.poison(2)
    await page.reload()
    await expect(page.locator("#count")).to_have_text("2 dead letters.")
    await page.route(re.compile(r"/ui/dead-letters/[^/]+/replay$"), _slowly)
    await page.click("#replay-all")
    await expect(page.locator("#replay-busy")).to_be_visible()
    await expect(page.locator("#replay-all")).to_be_disabled()
    await expect(page.locator("#replayed")).to_have_text(f"Replayed 2 messages back to {QUEUE}.")
    await console.shot("console-dead-letters-replayed")
    await poisoner.waiting(2)

    await poisoner.poison(1)
    await page.reload()
    await page.click("#purge")
    await expect(page.locator("h1")).to_have_text(f"Purge {QUEUE}.dlq?")
    await expect(page.locator("article")).to_contain_text("the 1 dead letter of")
    await console.shot("console-dead-letters-purge")
    await page.click("#confirm-purge")
    await expect(page.locator("#purged")).to_have_text(f"Purged 1 message from {QUEUE}.dlq.")
    await expect(page.locator("#count")).to_have_text("0 dead letters.")
    assert not [text for text in said if "Content Security Policy" in text], said
