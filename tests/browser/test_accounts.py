"""The Email accounts screen in a real browser: status badges and the re-authorisation banner
from the fetcher's account state, the active toggle (and why an account cannot be active yet),
"Refresh" and "messages waiting" against the stack's Dovecot with their progress shown while
they run, a read key's list without forms, and an agent key's 403."""

import asyncio
import re

import pytest
from playwright.async_api import Route, expect

from postroom_fetcher.domain.leases import FETCH_NOW_KEY, FETCH_NOW_NAMESPACE
from postroom_shared.apikeys import new_api_key
from postroom_shared.models import AccountState, utcnow
from tests import factories
from tests.browser.conftest import DEMO, Console

pytestmark = [pytest.mark.stack, pytest.mark.browser]


async def _accounts(console: Console) -> None:
    await console.page.goto(f"{console.url}/ui/accounts")
    await expect(console.page.locator("#accounts")).to_be_visible()


async def test_the_list_shows_each_account_s_badge_and_the_reauth_banner(
    console: Console,
) -> None:
    store = console.store
    await store.put_account_state(AccountState(account_id=DEMO, last_success=utcnow()))
    expired = "AUTHENTICATE failed: the consent was revoked"
    await store.put_account_state(
        AccountState(account_id="acc1", status="needs_reauth", last_error=expired)
    )
    await console.sign_in()
    await console.page.click("nav >> text=Accounts")
    await console.page.wait_for_url(f"{console.url}/ui/accounts")
    demo = console.page.locator(f"#account-{DEMO}")
    await expect(demo.locator(".badge")).to_have_text("ok")
    await expect(demo).not_to_contain_text("never")  # its last success is shown
    other = console.page.locator("#account-acc1")
    await expect(other.locator(".badge")).to_have_text("needs re-authorisation")
    await expect(other.locator(".last-error")).to_have_text(expired)
    await expect(console.page.locator("#reauth-acc1")).to_contain_text("sign in to it again")
    await expect(console.page.locator(f"#reauth-{DEMO}")).to_have_count(0)
    await console.shot("console-accounts")


async def test_the_toggle_deactivates_and_reactivates_and_says_why_it_cannot(
    console: Console,
) -> None:
    blocked = factories.account("acc_blocked", "help@example.test")
    await console.store.put_account(blocked.model_copy(update={"name": "Help", "active": False}))
    await console.sign_in()
    await _accounts(console)
    toggle = console.page.locator(f"#account-{DEMO} form.toggle button")
    await expect(toggle).to_have_text("Active: deactivate")
    await toggle.click()
    await expect(toggle).to_have_text("Inactive: activate")
    demo = await console.store.get_account(DEMO)
    assert demo is not None and demo.active is False
    await console.shot("console-accounts-inactive")
    await toggle.click()
    await expect(toggle).to_have_text("Active: deactivate")
    demo = await console.store.get_account(DEMO)
    assert demo is not None and demo.active is True
    # no password stored: the toggle is off, and the row says why
    row = console.page.locator("#account-acc_blocked")
    await expect(row.locator("form.toggle button")).to_be_disabled()
    await expect(row.locator(".why")).to_contain_text("no mailbox password is stored")
    forced = await console.page.request.post(
        f"{console.url}/ui/accounts/acc_blocked/active",
        form={"active": "true", "csrf_token": await console.csrf()},
        max_redirects=0,
    )
    assert forced.status == 409
    assert "cannot activate: no mailbox password" in await forced.text()
    still = await console.store.get_account("acc_blocked")
    assert still is not None and still.active is False


async def test_refresh_and_waiting_show_progress_then_the_answer(console: Console) -> None:
    page = console.page
    said: list[str] = []
    page.on("console", lambda message: said.append(message.text))
    await console.sign_in()
    await _accounts(console)

    async def slowly(route: Route) -> None:  # long enough to see the progress for certain
        await asyncio.sleep(0.7)
        await route.continue_()

    await page.route(re.compile(r"/ui/accounts/[^/]+/(refresh|waiting)$"), slowly)
    row = page.locator(f"#account-{DEMO}")
    await row.locator("button.refresh").click()
    busy = page.locator(f"#refresh-busy-{DEMO}")
    await expect(busy).to_be_visible()
    await expect(row.locator("button.refresh")).to_be_disabled()
    await console.shot("console-accounts-refreshing")
    await expect(page.locator(f"#refresh-{DEMO}")).to_have_text("connection ok; fetching now")
    await expect(busy).to_be_hidden()
    flagged = await console.store.seen_keys(DEMO, FETCH_NOW_NAMESPACE, [FETCH_NOW_KEY])
    assert flagged == {FETCH_NOW_KEY}

    await row.locator("button.waiting").click()
    await expect(page.locator(f"#waiting-busy-{DEMO}")).to_be_visible()
    await expect(page.locator(f"#waiting-{DEMO}")).to_have_text(
        re.compile(r"^\d+ messages? waiting$")
    )
    # acc1's host does not exist: the answer is the failure, in the resolver's own words
    await page.locator("#account-acc1 button.refresh").click()
    answer = page.locator("#refresh-acc1")
    await expect(answer).to_contain_text("the mailbox refused", timeout=20_000)
    print("acc1 refresh answer:", await answer.inner_text())
    await console.shot("console-accounts-refreshed")
    assert not [text for text in said if "Content Security Policy" in text], said


async def test_a_read_key_sees_the_accounts_without_forms(console: Console) -> None:
    record, key = new_api_key("dashboard-accounts", ["read"])
    await console.store.put_api_key(record)
    await console.sign_in(key)
    await _accounts(console)
    await expect(console.page.locator(f"#account-{DEMO}")).to_contain_text("bob@example.test")
    assert await console.page.locator("main form").count() == 0
    assert await console.page.locator("main button").count() == 0
    await console.shot("console-accounts-read-only")
    forced = await console.page.request.post(
        f"{console.url}/ui/accounts/{DEMO}/active",
        form={"active": "false", "csrf_token": await console.csrf()},
        max_redirects=0,
    )
    assert forced.status == 403, await forced.text()
    refreshed = await console.page.request.post(
        f"{console.url}/ui/accounts/{DEMO}/refresh",
        headers={"X-CSRF-Token": await console.csrf()},
        max_redirects=0,
    )
    assert refreshed.status == 403
    demo = await console.store.get_account(DEMO)
    assert demo is not None and demo.active is True


async def test_an_agent_key_gets_no_accounts_page(console: Console) -> None:
    record, key = new_api_key("desk agent", ["agent"])
    await console.store.put_api_key(record)
    await console.sign_in(key)
    assert await console.page.locator("nav >> text=Accounts").count() == 0
    answer = await console.page.goto(f"{console.url}/ui/accounts")
    assert answer is not None and answer.status == 403
    await expect(console.page.locator("[role=alert]")).to_contain_text("scope")
    assert await console.page.locator("#accounts").count() == 0
    await console.shot("console-accounts-agent")
