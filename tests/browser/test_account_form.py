"""Adding and editing an email account in a real browser: the seed flow end to end (add the
IMAP mailbox, test it, refresh its folders, count what is waiting, activate; a customer's mail
becomes an item through the real fetcher and converter; the reply from the item page reaches
the customer's INBOX through the real replier and Postfix), "Sign in with Microsoft" against
the test identity provider (tests/idp.py) and its refusal, validation next to the fields with
the mail server's own words, and copy / delete with confirmation.

The module runs its own API (with the IdP's endpoints) on its own SQLite store, and, for the
seed flow, the fetcher, converter and replier as processes on the same store and broker.
"""

import asyncio
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage

import pytest
from playwright.async_api import Browser, Page, expect

from postroom_shared.apikeys import new_api_key
from postroom_shared.models import EmailAccount, MailboxSettings, OAuthSettings, Security
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import open_store
from tests import factories
from tests.browser.conftest import Console, Site
from tests.e2e.runstack import mailbox, send
from tests.idp import IdentityProvider
from tests.integration.api_harness import SECRET, served_api
from tests.stack_env import REPO, StackEnv

pytestmark = [pytest.mark.stack, pytest.mark.browser]

TENANT = "postroom-test"
WAIT_S = 60.0


@pytest.fixture(scope="module")
def site(
    stack: StackEnv, idp: IdentityProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """This module's API: conftest's, pointed at the test identity provider."""
    tmp = tmp_path_factory.mktemp("account-form")
    url = f"sqlite:///{tmp / 'db' / 'postroom.db'}"
    oauth = {
        "POSTROOM_OAUTH_MICROSOFT_AUTHORITY": idp.https_url,
        "POSTROOM_OAUTH_GOOGLE_AUTH_URL": idp.google_auth_url,
        "POSTROOM_OAUTH_GOOGLE_TOKEN_URL": idp.google_token_url,
        "POSTROOM_OAUTH_CA_BUNDLE": str(idp.ca_file),
        "POSTROOM_OAUTH_TIMEOUT_S": "10",
    }
    with served_api(stack, url, tmp, POSTROOM_CONSOLE_IDLE_S="600", **oauth) as running:
        yield Site(running, url)


@pytest.fixture(scope="module")
def workers(
    site: Site, stack: StackEnv, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """The fetcher, converter and replier as processes on the module's store and broker,
    sending through the stack's Postfix."""
    logs = tmp_path_factory.mktemp("workers")
    env = dict(
        os.environ,
        POSTROOM_STORE_URL=site.store_url,
        POSTROOM_BROKER_URL=stack.amqp_url,
        POSTROOM_SECRET_KEY=SECRET,
        POSTROOM_METRICS_PORT="0",
        POSTROOM_ACCOUNTS_REFRESH_S="1",
        POSTROOM_SMTP_HOST="127.0.0.1",
        POSTROOM_SMTP_PORT=str(stack.smtp_port),
        POSTROOM_SMTP_SECURITY="none",
        POSTROOM_LOG_LEVEL="WARNING",
    )
    procs: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in ("converter", "replier", "fetcher"):
            with (logs / f"{name}.log").open("w") as out:
                procs[name] = subprocess.Popen(
                    [str(REPO / f".venv/bin/postroom-{name}")], env=env, stdout=out,
                    stderr=subprocess.STDOUT,
                )  # fmt: skip
        yield
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for name, proc in procs.items():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            print(f"{name} log tail:", (logs / f"{name}.log").read_text()[-1500:])


@pytest.fixture
async def desk(site: Site, browser: Browser) -> AsyncIterator[Console]:
    """A fresh browser context on the module's API (an empty store to begin with); the IdP's
    certificate is the test CA's, so the browser does not check it."""
    store = await open_store(site.store_url)
    try:
        context = await browser.new_context(
            viewport={"width": 1200, "height": 900}, ignore_https_errors=True
        )
        yield Console(site.served.url, store, "", await context.new_page())
        await context.close()
    finally:
        await store.close()


async def _add(console: Console, choice: str, fields: dict[str, str]) -> Page:
    """Accounts → Add account → the picker's `choice` → the form filled with `fields`, saved."""
    page = console.page
    await page.goto(f"{console.url}/ui/accounts")
    await page.click("#add-account")
    await page.wait_for_url(f"{console.url}/ui/accounts/new")
    await page.check(f"#provider-{choice}")
    await page.click("#provider-picker button[type=submit]")
    await page.wait_for_url(re.compile(rf".*/ui/accounts/new\?provider={choice}$"))
    for name, value in fields.items():
        field = page.locator(f"[name='{name}']").last
        if await field.evaluate("e => e.tagName") == "SELECT":
            await field.select_option(value)
        else:
            await field.fill(value)
    await page.click("#connection-form button[type=submit]")
    return page


def _account_id(page: Page) -> str:
    found = re.search(r"/ui/accounts/(acc_[0-9a-f]+)", page.url)
    assert found, page.url
    return found.group(1)


def _mail(subject: str, body: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Casey Customer <customer@example.test>"
    msg["To"] = "support@example.test"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.test>"
    msg.set_content(body)
    return msg


async def test_the_seed_flow_through_the_console(
    desk: Console, workers: None, stack: StackEnv
) -> None:
    started = time.monotonic()
    page = desk.page
    await desk.sign_in()
    await page.goto(f"{desk.url}/ui/accounts/new")
    await desk.shot("console-account-picker")
    await page.goto(f"{desk.url}/ui/accounts/new?provider=imap")
    await desk.shot("console-account-add-imap")
    await _add(
        desk,
        "imap",
        {
            "name": "Support desk",
            "address": "support@example.test",
            "mailbox.host": "127.0.0.1",
            "mailbox.port": str(stack.imap_port),
            "mailbox.security": "none",
            "mailbox.username": "support@example.test",
            "mailbox.password": "support",
        },
    )
    await expect(page.locator("#saved-notice")).to_contain_text("Account created (inactive)")
    account_id = _account_id(page)
    stored = await desk.store.get_account(account_id)
    assert stored is not None and not stored.active and stored.project == "Support"
    assert stored.mailbox is not None and stored.mailbox.password_enc  # stored, encrypted
    assert await page.locator("#mailbox-password").input_value() == ""  # never echoed

    await page.click("#test-connection")
    await expect(page.locator("#test-answer")).to_contain_text("connection ok")
    await page.click("#refresh-folders")
    await expect(page.locator("#mailbox-folder-help")).to_contain_text("listed by the server")
    await expect(page.locator("#mailbox-folder option[value=INBOX]")).to_have_count(1)
    await page.select_option("#mailbox-folder", "INBOX")
    await desk.shot("console-account-connection")
    await page.click("#connection-form button[type=submit]")
    await expect(page.locator("#saved-notice")).to_have_text("Saved.")
    await expect(page.locator("#waiting-answer")).to_contain_text("0 messages waiting")

    subject = f"Printer on fire {uuid.uuid4().hex[:6]}"
    send(stack, _mail(subject, "The printer on floor 2 is on fire."))
    deadline = time.monotonic() + WAIT_S
    while "1 message waiting" not in (await page.locator("#waiting-answer").inner_text()):
        assert time.monotonic() < deadline, "the mail never reached the mailbox"
        await asyncio.sleep(0.5)
        await page.click("#count-waiting")
    await desk.shot("console-account-waiting")
    await page.click("#activate")
    await expect(page.locator("#saved-notice")).to_contain_text("Active")
    await expect(page.locator("#activate")).to_have_text("Deactivate")
    print(f"account added and activated after {time.monotonic() - started:.1f} s")

    row = page.locator("#items tbody tr", has_text=subject)
    deadline = time.monotonic() + WAIT_S
    while True:
        await page.goto(f"{desk.url}/ui/items")
        if await row.count():
            break
        assert time.monotonic() < deadline, "no item for the customer's mail"
        await asyncio.sleep(1)
    print(f"item listed after {time.monotonic() - started:.1f} s")
    await desk.shot("console-account-seed-item-listed")
    await row.locator("a").first.click()
    await page.wait_for_url(re.compile(r".*/ui/items/.+"))
    answer = f"We are on our way {uuid.uuid4().hex[:6]}."
    await page.fill("#reply-text", answer)
    await page.click("#reply-form button[type=submit]")
    await desk.shot("console-account-seed-reply")
    deadline = time.monotonic() + WAIT_S
    while not any(answer in str(msg) for msg in mailbox(stack, "customer")):
        assert time.monotonic() < deadline, "the reply never reached the customer's INBOX"
        await asyncio.sleep(0.5)
    print(f"reply in the customer's INBOX after {time.monotonic() - started:.1f} s")


async def test_sign_in_with_microsoft_comes_back_to_the_account(
    desk: Console, idp: IdentityProvider
) -> None:
    client = idp.register_client(secret="client-secret", default_user="alice@example.test")
    await desk.sign_in()
    page = await _add(
        desk,
        "microsoft",
        {
            "name": "Microsoft mailbox",
            "address": "alice@example.test",
            "mailbox.username": "alice@example.test",
            "oauth.client_id": client.client_id,
            "oauth.client_secret": "client-secret",
            "oauth.tenant": TENANT,
        },
    )
    account_id = _account_id(page)
    await expect(page.locator("#signed-in")).to_have_text("Not signed in yet.")
    await expect(page.locator("#why-inactive")).to_contain_text("not signed in")
    await desk.shot("console-account-microsoft")
    await page.click("#sign-in-button")
    await page.wait_for_url(re.compile(rf".*/ui/accounts/{account_id}\?signin=.+"))
    await expect(page.locator("#signin-notice")).to_contain_text("Signed in")
    await expect(page.locator("#signed-in")).to_have_text("Signed in: a refresh token is stored.")
    await expect(page.locator("#activate")).to_be_enabled()
    await desk.shot("console-account-signed-in")
    stored = await desk.store.get_account(account_id)
    assert stored is not None and stored.oauth is not None and stored.oauth.refresh_token_enc

    # the notice is sealed for this account: a crafted one says nothing
    await page.goto(f"{desk.url}/ui/accounts/{account_id}?signin=v1:forged")
    await expect(page.locator("#signin-notice")).to_have_count(0)


async def test_a_denied_sign_in_comes_back_as_a_notice(
    desk: Console, idp: IdentityProvider
) -> None:
    # a user of this test alone: the IdP is the session's, and a denial lasts for its life
    declines = f"declines-{uuid.uuid4().hex[:8]}@example.test"
    client = idp.register_client(secret="client-secret", default_user=declines)
    idp.deny(declines)
    box = SecretBox(SECRET)
    oauth = OAuthSettings(
        client_id=client.client_id, client_secret_enc=box.encrypt("client-secret"), tenant=TENANT
    )
    mailbox = MailboxSettings(host="127.0.0.1", port=143, security=Security.NONE, username=declines)
    account = EmailAccount(
        id="acc_denied", name="Denied", address=declines, provider="microsoft",
        project="Support", mailbox=mailbox, oauth=oauth, active=False,
    )  # fmt: skip
    await desk.store.put_account(account)
    await desk.sign_in()
    page = desk.page
    await page.goto(f"{desk.url}/ui/accounts/acc_denied")
    await page.click("#sign-in-button")
    await page.wait_for_url(re.compile(r".*/ui/accounts/acc_denied\?signin=.+"))
    notice = page.locator("#signin-notice")
    await expect(notice).to_contain_text("declined")
    await expect(notice).to_have_class(re.compile("error"))
    await expect(page.locator("#signed-in")).to_have_text("Not signed in yet.")
    await desk.shot("console-account-sign-in-denied")


async def test_a_bad_port_is_said_at_the_port_and_a_wrong_password_in_the_server_s_words(
    desk: Console, stack: StackEnv
) -> None:
    await desk.sign_in()
    fields = {
        "name": "Wrong password",
        "address": "customer@example.test",
        "mailbox.host": "127.0.0.1",
        "mailbox.port": "70000",
        "mailbox.security": "none",
        "mailbox.username": "customer@example.test",
        "mailbox.password": "not-the-password",
    }
    page = await _add(desk, "imap", fields)
    error = page.locator("#mailbox-port-error")
    await expect(error).to_contain_text("65535")
    await expect(page.locator("#mailbox-port")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#mailbox-password")).to_have_value("")  # never echoed back
    await expect(page.locator("#name")).to_have_value("Wrong password")  # the rest is kept
    await desk.shot("console-account-invalid-port")
    await page.fill("#mailbox-port", str(stack.imap_port))
    await page.fill("#mailbox-password", "not-the-password")
    await page.click("#connection-form button[type=submit]")
    await expect(page.locator("#saved-notice")).to_contain_text("Account created")
    await page.click("#test-connection")
    answer = page.locator("#test-answer")
    await expect(answer).to_contain_text("the mailbox refused (auth)")
    await expect(answer).to_contain_text(re.compile("authentication failed", re.IGNORECASE))
    print("the server's words:", await answer.inner_text())
    await desk.shot("console-account-wrong-password")


async def test_copy_then_delete_with_confirmation(desk: Console) -> None:
    original = factories.account("acc_original", "original@example.test")
    await desk.store.put_account(original.model_copy(update={"name": "Original", "active": False}))
    await desk.sign_in()
    page = desk.page
    await page.goto(f"{desk.url}/ui/accounts")
    await page.click("#account-acc_original form.copy button")
    await page.wait_for_url(re.compile(r".*/ui/accounts/acc_[0-9a-f]+\?saved=copied$"))
    copy_id = _account_id(page)
    await expect(page.locator("#saved-notice")).to_contain_text("This is a copy")
    await expect(page.locator("#name")).to_have_value("Original (copy)")
    copied = await desk.store.get_account(copy_id)
    assert copied is not None and not copied.active

    await page.goto(f"{desk.url}/ui/accounts")
    await page.click(f"#account-{copy_id} a.delete")
    await page.wait_for_url(f"{desk.url}/ui/accounts/{copy_id}/delete")
    await expect(page.locator("#delete-question")).to_contain_text("Its items stay")
    await desk.shot("console-account-delete")
    assert await desk.store.get_account(copy_id) is not None  # nothing happened yet
    await page.click("#confirm-delete")
    await page.wait_for_url(f"{desk.url}/ui/accounts?deleted=1")
    await expect(page.locator("#deleted-notice")).to_be_visible()
    await expect(page.locator(f"#account-{copy_id}")).to_have_count(0)
    assert await desk.store.get_account(copy_id) is None
    assert await desk.store.get_account("acc_original") is not None


async def test_a_read_key_sees_the_connection_without_forms_and_cannot_save(
    desk: Console,
) -> None:
    account = factories.account("acc_readonly", "readonly@example.test")
    await desk.store.put_account(account.model_copy(update={"name": "Read only", "active": False}))
    record, key = new_api_key("account-reader", ["read"])
    await desk.store.put_api_key(record)
    await desk.sign_in(key)
    page = desk.page
    await page.goto(f"{desk.url}/ui/accounts/acc_readonly")
    await expect(page.locator("#name")).to_have_value("Read only")
    await expect(page.locator("#name")).to_be_disabled()
    assert await page.locator("main form").count() == 0
    assert await page.locator("main button").count() == 0
    await desk.shot("console-account-read-only")
    for path, form in [
        ("/ui/accounts/acc_readonly", {"name": "Taken over"}),
        ("/ui/accounts/acc_readonly/delete", {}),
        ("/ui/accounts/new", {"provider": "push", "name": "x"}),
    ]:
        forced = await page.request.post(
            desk.url + path, form={**form, "csrf_token": await desk.csrf()}, max_redirects=0
        )
        assert forced.status == 403, (path, await forced.text())
    kept = await desk.store.get_account("acc_readonly")
    assert kept is not None and kept.name == "Read only"
    new_page = await page.request.get(f"{desk.url}/ui/accounts/new", max_redirects=0)
    assert new_page.status == 403


async def test_a_push_account_shows_how_to_deliver_and_no_mailbox(desk: Console) -> None:
    await desk.sign_in()
    page = await _add(desk, "push", {"name": "Pushed", "address": "pushed@example.test"})
    await expect(page.locator("#saved-notice")).to_contain_text("Account created")
    account_id = _account_id(page)
    await expect(page.locator("#push")).to_contain_text("postroom deliver --account Pushed")
    await expect(page.locator("#push")).to_contain_text(f"POST /v1/accounts/{account_id}/mail")
    for mailbox_only in ("#mailbox-host", "#test-connection", "#refresh-folders", "#count-waiting"):
        assert await page.locator(mailbox_only).count() == 0, mailbox_only
    await expect(page.locator("#activate")).to_be_enabled()  # nothing to sign in to
    await desk.shot("console-account-push")
    stored = await desk.store.get_account(account_id)
    assert stored is not None and stored.provider == "push" and stored.mailbox is None


async def test_the_smtp_server_s_sign_in_comes_back_to_the_smtp_page(
    desk: Console, idp: IdentityProvider
) -> None:
    """The SMTP page's "Sign in" (auth xoauth2) goes through the provider and back to /ui/smtp
    with the outcome, as an account's does (oauth/console_return.py)."""
    client = idp.register_client(secret="smtp-secret", default_user="desk@example.test")
    page = desk.page
    await desk.sign_in()
    try:
        await page.goto(f"{desk.url}/ui/smtp")
        await page.fill("#host", "smtp.gmail.com")
        await page.select_option("#auth", "xoauth2")
        await page.fill("#username", "desk@example.test")
        await page.select_option("#oauth_provider", "google")
        await page.fill("#oauth-client_id", client.client_id)
        await page.fill("#oauth-client_secret", "smtp-secret")
        await page.click("#smtp-form button[type=submit]")
        await page.wait_for_url(re.compile(r"/ui/smtp\?done=saved"))
        await page.click("#smtp-sign-in")
        await page.wait_for_url(re.compile(r".*/ui/smtp\?signin=.+"))
        await expect(page.locator("#signin-notice")).to_contain_text("Signed in")
        await expect(page.locator("#in-use")).to_contain_text("signed in")
        await desk.shot("console-smtp-signed-in")
        stored = await desk.store.get_smtp_settings()
        assert stored is not None and stored.oauth is not None and stored.oauth.refresh_token_enc
        # sealed for the SMTP page: the same notice on an account's page says nothing
        sealed = page.url.split("signin=", 1)[1]
        await page.goto(f"{desk.url}/ui/smtp?signin=v1:forged")
        await expect(page.locator("#signin-notice")).to_have_count(0)
        assert sealed
    finally:
        await desk.store.delete_smtp_settings()  # the seed flow's replier uses the built-in relay
