"""Browser tests: the console on the real `postroom-api` (uvicorn, its own process) over the
session stack's RabbitMQ and a SQLite store, driven by Debian's Chromium through Playwright
(`executable_path`; no browser is downloaded: `deploy/local/stack.sh install-browser`).

The store holds two accounts: `acc1` (no mailbox behind it) and the demo account on the stack's
Dovecot (`DEMO`). Items are made by the real converter from real mail on the same store. Every
screen a test visits is saved (`Console.shot`) into .state/screenshots/, or into the folder
POSTROOM_TEST_SCREENSHOTS names: `POSTROOM_TEST_SCREENSHOTS=docs/screenshots` refreshes the
committed ones README shows (a plain test run leaves the working tree clean).
"""

import os
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from email.message import EmailMessage

import pytest
from faststream.rabbit import RabbitBroker
from playwright.async_api import Browser, Page, async_playwright

from postroom_converter.domain.outcome import Created
from postroom_converter.service import Converter
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.models import EmailAccount, MailboxSettings, Security
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store, open_store
from postroom_shared.topology import declare_topology
from tests import factories
from tests.integration.api_harness import KEY, SECRET, Served, served_api
from tests.stack_env import REPO, StackEnv

CHROMIUM = os.environ.get("POSTROOM_TEST_CHROMIUM", "/usr/bin/chromium")
SCREENSHOTS = REPO / os.environ.get("POSTROOM_TEST_SCREENSHOTS", ".state/screenshots")


DEMO = "acc_demo"


def demo_account(stack: StackEnv) -> EmailAccount:
    """The demo account: bob's INBOX on the session stack's Dovecot, password stored."""
    password = SecretBox(SECRET).encrypt("bob")
    mailbox = MailboxSettings(
        host="127.0.0.1",
        port=stack.imap_port,
        security=Security.NONE,
        username="bob@example.test",
        password_enc=password,
    )
    return EmailAccount(
        id=DEMO, name="Demo", address="bob@example.test", project="Desk", mailbox=mailbox
    )


@dataclass
class Console:
    url: str
    store: Store
    item_id: str
    page: Page

    async def shot(self, name: str) -> None:
        """Save what the browser shows now as <SCREENSHOTS>/<name>.png."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)

    async def csrf(self) -> str:
        """The session's CSRF token, as the page hands it to htmx."""
        headers = await self.page.locator("body").get_attribute("hx-headers")
        token = re.search(r'"X-CSRF-Token": "([^"]+)"', headers or "")
        assert token is not None, headers
        return token.group(1)

    async def sign_in(self, key: str = KEY) -> None:
        """Sign in and wait for the landing page: the dashboard (admin and read keys) or the
        items (agent keys)."""
        await self.page.goto(f"{self.url}/ui/login")
        await self.page.fill("#api_key", key)
        await self.page.click("button[type=submit]")
        await self.page.wait_for_url(re.compile(rf"{re.escape(self.url)}/ui/(dashboard|items)$"))


def _mail() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Casey Customer <customer@example.test>"
    msg["To"] = "support@example.test"
    msg["Subject"] = "Printer on fire"
    msg["Message-ID"] = "<browser-1@example.test>"
    msg.set_content("The printer on floor 2 is on fire.")
    return bytes(msg)


@dataclass
class Site:
    served: Served
    store_url: str


@pytest.fixture(scope="module")
def site(stack: StackEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One API process for the module's tests (starting one costs seconds)."""
    tmp = tmp_path_factory.mktemp("console")
    url = f"sqlite:///{tmp / 'db' / 'postroom.db'}"
    with served_api(stack, url, tmp, POSTROOM_CONSOLE_IDLE_S="600") as running:
        yield Site(running, url)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def console(site: Site, stack: StackEnv, browser: Browser) -> AsyncIterator[Console]:
    """A fresh browser context on the served API, whose store holds one item the converter
    made from a customer's mail."""
    store = await open_store(site.store_url)
    broker = RabbitBroker(stack.amqp_url)
    try:
        await broker.connect()
        await declare_topology(broker)
        if not await store.list_accounts():
            await store.put_account(factories.account())
            await store.put_account(demo_account(stack))
            converter = Converter(store=store, broker=broker, signer=MessageIdSigner(SECRET, ""))
            outcome = await converter.handle(factories.mail_received("acc1/INBOX/1/1", _mail()))
            assert isinstance(outcome, Created), outcome
        # the module's first item (a test may have made more, e.g. by reprocessing)
        item = await store.item_for_mail("acc1/INBOX/1/1")
        assert item is not None
        context = await browser.new_context(viewport={"width": 1200, "height": 900})
        page = await context.new_page()
        yield Console(site.served.url, store, item.id, page)
        await context.close()
    finally:
        await broker.stop()
        await store.close()
