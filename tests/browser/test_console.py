"""The console in a real browser (headless Chromium): sign-in, the items list, an item page, a
reply from it that lands on the thread, and the security rules: a form without its CSRF token
is refused, a read key sees no forms and cannot post, an idle session ends, and mail HTML
never runs a script."""

import re
from datetime import timedelta

import pytest
from playwright.async_api import expect

from postroom_api.console.session import COOKIE, session_id
from postroom_shared.apikeys import new_api_key
from postroom_shared.models import ThreadMessage
from tests.browser.conftest import Console

pytestmark = [pytest.mark.stack, pytest.mark.browser]


async def test_sign_in_list_open_and_reply_from_the_item_page(console: Console) -> None:
    page = console.page
    await page.goto(f"{console.url}/ui/items")
    await page.wait_for_url(re.compile(r"/ui/login"))  # not signed in: the sign-in page
    await console.shot("console-sign-in")
    await console.sign_in()
    await page.click("nav >> text=Items")  # an admin key lands on the dashboard
    await expect(page.locator("#items")).to_contain_text("Printer on fire")
    await console.shot("console-items")
    await page.click("text=INC-1")
    await page.wait_for_url(f"{console.url}/ui/items/{console.item_id}")
    await expect(page.locator("#thread")).to_contain_text("The printer on floor 2 is on fire.")
    await console.shot("console-item")
    await page.fill("#reply-text", "We are on our way with a fire extinguisher.")
    await page.click("#reply-form button[type=submit]")
    await page.wait_for_url(re.compile(rf"/ui/items/{console.item_id}"))
    await expect(page.locator("#thread")).to_contain_text("on our way with a fire extinguisher")
    await console.shot("console-item-replied")
    thread = await console.store.list_messages(console.item_id)
    replies = [m for m in thread if m.kind == "team_reply"]
    assert [m.text for m in replies] == ["We are on our way with a fire extinguisher."]
    print("thread after the reply:", [(m.direction, m.kind) for m in thread])
    # the session is stored, and signing out deletes it
    (cookie,) = [c for c in await page.context.cookies() if c["name"] == COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert await console.store.get_session(session_id(cookie["value"])) is not None
    await page.click("text=Sign out")
    await page.wait_for_url(re.compile(r"/ui/login"))
    assert await console.store.get_session(session_id(cookie["value"])) is None


async def test_a_form_post_without_its_csrf_token_is_refused(console: Console) -> None:
    await console.sign_in()
    item = await console.store.get_item(console.item_id)
    assert item is not None
    form: dict[str, str | float | bool] = {"text": "forged", "version": item.version, "nonce": "n1"}
    forged = await console.page.request.post(
        f"{console.url}/ui/items/{console.item_id}/note", form=form, max_redirects=0
    )
    assert forged.status == 403, await forged.text()
    wrong = await console.page.request.post(
        f"{console.url}/ui/items/{console.item_id}/note",
        form={**form, "csrf_token": "not-the-token"},
        max_redirects=0,
    )
    assert wrong.status == 403
    notes = [m for m in await console.store.list_messages(console.item_id) if m.kind == "note"]
    assert notes == []
    right = await console.page.request.post(
        f"{console.url}/ui/items/{console.item_id}/note",
        form={**form, "text": "a real note", "csrf_token": await console.csrf()},
        max_redirects=0,
    )
    assert right.status == 303, await right.text()
    notes = [m for m in await console.store.list_messages(console.item_id) if m.kind == "note"]
    assert [m.text for m in notes] == ["a real note"]


async def test_a_read_key_sees_no_forms_and_cannot_post(console: Console) -> None:
    record, key = new_api_key("dashboard", ["read"])
    await console.store.put_api_key(record)
    await console.sign_in(key)
    page = console.page
    await page.goto(f"{console.url}/ui/items/{console.item_id}")
    await expect(page.locator("#thread")).to_contain_text("on fire")
    assert await page.locator("main form").count() == 0
    await console.shot("console-item-read-only")
    item = await console.store.get_item(console.item_id)
    assert item is not None
    forged = await page.request.post(
        f"{console.url}/ui/items/{console.item_id}/note",
        form={"text": "x", "version": str(item.version), "nonce": "n2"},
        headers={"X-CSRF-Token": await console.csrf()},  # a valid token: the scope refuses
        max_redirects=0,
    )
    assert forged.status == 403, await forged.text()
    assert "agent or admin" in await forged.text()


async def test_an_idle_session_ends(console: Console) -> None:
    await console.sign_in()
    (cookie,) = [c for c in await console.page.context.cookies() if c["name"] == COOKIE]
    stored = await console.store.get_session(session_id(cookie["value"]))
    assert stored is not None
    # the session was last used longer ago than POSTROOM_CONSOLE_IDLE_S (600 s here)
    idle = stored.model_copy(update={"seen_at": stored.seen_at - timedelta(seconds=601)})
    await console.store.put_session(idle)
    await console.page.goto(f"{console.url}/ui/items")
    await console.page.wait_for_url(re.compile(r"/ui/login\?why="))
    await expect(console.page.locator("[role=alert]")).to_contain_text("idle")
    assert await console.store.get_session(stored.id) is None


async def test_mail_html_never_runs_a_script(console: Console) -> None:
    hostile = (
        "<p id='hello'>Hello from the mail</p><script>window.ran = 1;"
        " parent.document.title = 'pwned';</script>"
        "<img src='x' onerror=\"window.ran = 2; parent.document.title = 'pwned'\">"
    )
    message = ThreadMessage(
        key="test:hostile",
        item_id=console.item_id,
        account_id="acc1",
        direction="in",
        subject="hostile",
        text="hostile",
        html=hostile,
    )
    await console.store.append_message(console.item_id, message, [], add_participants=[])
    await console.sign_in()
    page = console.page
    await page.goto(f"{console.url}/ui/items/{console.item_id}")
    frame_element = page.locator("iframe.mail")
    await expect(frame_element).to_have_count(1)
    assert await frame_element.get_attribute("sandbox") == ""
    frame = await (await frame_element.element_handle()).content_frame()
    assert frame is not None
    await frame.wait_for_load_state()
    assert await frame.locator("#hello").inner_text() == "Hello from the mail"
    await page.wait_for_timeout(300)
    assert await frame.evaluate("() => window.ran") is None
    assert "pwned" not in await page.title()
    await console.shot("console-item-mail-html")
