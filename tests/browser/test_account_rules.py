"""An account's Creating items, Actions and Auto-reply tabs in a real browser: each saves through
the account PATCH and the reloaded page, the store and the JSON API agree; a refused value shows
its reason next to its field; the auto-reply's template editor previews as the admin types; a
read key sees the values without forms."""

import asyncio
import re

import pytest
from playwright.async_api import Route, expect

from postroom_shared.apikeys import new_api_key
from postroom_shared.models import (
    EmailAccount,
    NotificationTemplate,
    Person,
    Workflow,
    WorkflowStep,
)
from tests import factories
from tests.browser.conftest import Console
from tests.integration.api_harness import KEY

pytestmark = [pytest.mark.stack, pytest.mark.browser]


async def _account(console: Console, account_id: str) -> EmailAccount:
    """An account of the test's own, so the module's tests do not see each other's saves."""
    account = factories.account(account_id, f"{account_id}@example.test")
    account = account.model_copy(update={"name": f"Desk {account_id}", "active": False})
    await console.store.put_account(account)
    return account


async def _stored(console: Console, account_id: str) -> EmailAccount:
    account = await console.store.get_account(account_id)
    assert account is not None
    return account


async def _json(console: Console, account_id: str) -> dict[str, object]:
    answer = await console.page.request.get(
        f"{console.url}/v1/accounts/{account_id}", headers={"Authorization": f"Bearer {KEY}"}
    )
    assert answer.ok
    body: dict[str, object] = await answer.json()
    return body


async def _save(console: Console) -> None:
    await console.page.click("#save")
    await expect(console.page.locator("#saved")).to_be_visible()


async def test_creating_items_saves_mapping_options_and_default_rows(console: Console) -> None:
    page, account_id = console.page, "acc_items"
    await _account(console, account_id)
    await console.store.put_person(
        Person(id="usr_ann", kind="user", name="Ann", emails=["ann@x.test"])
    )
    await console.sign_in()
    await page.goto(f"{console.url}/ui/accounts/{account_id}/items")
    await expect(page.locator("nav.tabs [aria-current=page]")).to_have_text("Creating items")
    await page.select_option("#item_type", "defect")
    await page.fill("#project", "Hardware")
    await page.select_option("#creator", "usr_ann")
    await page.select_option("#map-title-source", "reply_text")
    await page.click("#add-map-row")
    custom = page.locator("#field-mapping tr.map-row").last
    await custom.locator("input[type=text]").fill("fields.severity")
    await custom.locator("select").select_option("subject")
    blank = page.locator("#defaults tr.default-row").last
    await blank.locator("input[type=checkbox]").check()
    await blank.locator("input[name$=-name]").fill("priority")
    await blank.locator("input[name$=-value]").fill("high")
    await page.click("#add-default-row")
    await expect(page.locator("#defaults tr.default-row")).to_have_count(2)
    added = page.locator("#defaults tr.default-row").last
    await added.locator("input[name$=-name]").fill("status")
    await added.locator("input[name$=-value]").fill("open")
    await page.uncheck("#items-save_attachments")
    await _save(console)

    await page.reload()
    await expect(page.locator("#item_type")).to_have_value("defect")
    await expect(page.locator("#project")).to_have_value("Hardware")
    await expect(page.locator("#creator")).to_have_value("usr_ann")
    await expect(page.locator("#map-title-source")).to_have_value("reply_text")
    await expect(page.locator("#items-save_attachments")).not_to_be_checked()
    await expect(page.locator("#defaults input[value=priority]")).to_have_count(1)
    await console.shot("console-account-items")
    stored = await _stored(console, account_id)
    assert (stored.item_type.value, stored.project, stored.creator) == (
        "defect",
        "Hardware",
        "usr_ann",
    )
    assert stored.items.field_mapping["title"] == "reply_text"
    assert stored.items.field_mapping["fields.severity"] == "subject"
    assert stored.items.defaults == {"priority": "high", "status": "open"}
    assert stored.items.save_attachments is False
    assert (await _json(console, account_id))["items"] == stored.items.model_dump(mode="json")

    # unticking a row removes that default (the PATCH replaces the map whole)
    row = page.locator("#defaults tr.default-row", has=page.locator("input[value=status]"))
    await row.locator("input[type=checkbox]").uncheck()
    await _save(console)
    assert (await _stored(console, account_id)).items.defaults == {"priority": "high"}


async def test_a_refused_default_shows_its_reason_under_the_defaults(console: Console) -> None:
    page, account_id = console.page, "acc_items_bad"
    await _account(console, account_id)
    await console.sign_in()
    await page.goto(f"{console.url}/ui/accounts/{account_id}/items")
    blank = page.locator("#defaults tr.default-row").last
    await blank.locator("input[type=checkbox]").check()
    await blank.locator("input[name$=-name]").fill("colour")
    await blank.locator("input[name$=-value]").fill("red")
    await page.click("#save")
    error = page.locator("#items-defaults-error")
    await expect(error).to_contain_text("colour")
    # the refused row is still there to correct, the rest as posted
    await expect(page.locator("#defaults input[value=colour]")).to_have_count(1)
    await console.shot("console-account-items-invalid")
    assert (await _stored(console, account_id)).items.defaults == {}


async def test_actions_save_the_reply_rules_and_refuse_a_step_move_without_workflow(
    console: Console,
) -> None:
    page, account_id = console.page, "acc_actions"
    await _account(console, account_id)
    steps = [WorkflowStep(name="Open"), WorkflowStep(name="Done", on_new_email="Open")]
    await console.store.put_workflow(Workflow(id="wf_desk", name="Help desk", steps=steps))
    await console.sign_in()
    await page.goto(f"{console.url}/ui/accounts/{account_id}/actions")
    await expect(page.locator("#steps-wf_desk")).to_contain_text("Done")
    await page.check("#on_reply-move_workflow_step")
    await page.click("#save")
    await expect(page.locator("#on_reply-move_workflow_step-error")).to_contain_text(
        "needs workflow_id"
    )
    await expect(page.locator("#on_reply-move_workflow_step")).to_have_attribute(
        "aria-invalid", "true"
    )
    await console.shot("console-account-actions-invalid")
    assert (await _stored(console, account_id)).on_reply.move_workflow_step is False

    await page.select_option("#workflow_id", "wf_desk")
    await page.fill("#on_reply-change_status_to", "open")
    await _save(console)
    await page.reload()
    await expect(page.locator("#workflow_id")).to_have_value("wf_desk")
    await expect(page.locator("#on_reply-change_status_to")).to_have_value("open")
    await expect(page.locator("#on_reply-move_workflow_step")).to_be_checked()
    await console.shot("console-account-actions")
    stored = await _stored(console, account_id)
    assert stored.workflow_id == "wf_desk"
    assert stored.on_reply.change_status_to == "open" and stored.on_reply.move_workflow_step
    assert (await _json(console, account_id))["workflow_id"] == "wf_desk"

    # a workflow that does not exist (a stale form) is refused next to the select
    forced = await page.request.post(
        f"{console.url}/ui/accounts/{account_id}/actions",
        form={"csrf_token": await console.csrf(), "workflow_id": "wf_gone"},
    )
    assert forced.status == 422
    assert re.search(r'id="workflow_id-error">no workflow wf_gone', await forced.text())


async def test_auto_reply_saves_the_toggles_and_its_editor_previews_as_one_types(
    console: Console,
) -> None:
    page, account_id = console.page, "acc_auto"
    said: list[str] = []
    page.on("console", lambda message: said.append(message.text))
    await _account(console, account_id)
    reply = NotificationTemplate(
        id="tpl_ack", name="Ack", text="Hello {{ message.sender_name }}, we have {{ item.token }}."
    )
    await console.store.put_template(reply)
    await console.sign_in()
    await page.goto(f"{console.url}/ui/accounts/{account_id}/auto-reply")
    await expect(page.locator("#response-format")).to_be_visible()
    assert await page.locator("#template-form").count() == 0  # built-in: nothing to edit
    await page.check("#auto_reply-send_to_cc")
    await page.uncheck("#auto_reply-first_mail_only")
    await page.select_option("#auto_reply-template_id", "tpl_ack")
    await page.select_option("#notifications-item_created", "tpl_ack")
    await _save(console)
    await page.reload()
    await expect(page.locator("#auto_reply-send_to_cc")).to_be_checked()
    await expect(page.locator("#auto_reply-first_mail_only")).not_to_be_checked()
    await expect(page.locator("#auto_reply-template_id")).to_have_value("tpl_ack")
    stored = await _stored(console, account_id)
    assert stored.auto_reply.send_to_cc and not stored.auto_reply.first_mail_only
    assert stored.auto_reply.template_id == "tpl_ack"
    assert stored.notifications.item_created == "tpl_ack"
    assert (await _json(console, account_id))["auto_reply"] == stored.auto_reply.model_dump(
        mode="json"
    )
    # the editor shows the chosen template, rendered with this account
    await expect(page.locator("#preview-text")).to_contain_text("we have INC-")

    async def slowly(route: Route) -> None:  # long enough to see the progress for certain
        await asyncio.sleep(0.7)
        await route.continue_()

    await page.route(re.compile(r"/ui/templates/preview$"), slowly)
    await page.fill("#text", "Thanks, {{ account.name }} has {{ item.token }}.")
    await expect(page.locator("#preview-busy")).to_be_visible()
    await expect(page.locator("#preview-text")).to_have_text(
        re.compile(rf"^Thanks, Desk {account_id} has INC-\d+\.$")
    )
    await expect(page.locator("#preview-busy")).to_be_hidden()
    await console.shot("console-account-auto-reply")

    await page.fill("#text", "Thanks {{ item.token ")
    await expect(page.locator("#live-error-text")).to_contain_text("TemplateSyntaxError")
    await expect(page.locator("#preview-error")).to_be_visible()
    await console.shot("console-account-auto-reply-syntax-error")
    await page.click("#save-template")  # refused: the error next to the body field
    await expect(page.locator("#text-error")).to_contain_text("TemplateSyntaxError")
    assert (await console.store.get_template("tpl_ack")) == reply
    await page.fill("#text", "Fixed: {{ item.token }}")
    await page.click("#save-template")  # saved, and back on the account's tab
    await page.wait_for_url(re.compile(rf"/ui/accounts/{account_id}/auto-reply\?saved=1$"))
    saved = await console.store.get_template("tpl_ack")
    assert saved is not None and saved.text == "Fixed: {{ item.token }}"
    assert not [text for text in said if "Content Security Policy" in text], said


async def test_a_read_key_sees_the_tabs_without_forms(console: Console) -> None:
    account_id = "acc_read"
    await _account(console, account_id)
    record, key = new_api_key("rules-reader", ["read"])
    await console.store.put_api_key(record)
    await console.sign_in(key)
    for tab, shown in (
        ("items", "#project"),
        ("actions", "#workflow_id"),
        ("auto-reply", "#auto_reply-enabled"),
    ):
        await console.page.goto(f"{console.url}/ui/accounts/{account_id}/{tab}")
        await expect(console.page.locator(shown)).to_be_disabled()
        assert await console.page.locator("main form").count() == 0
        assert await console.page.locator("main button").count() == 0
        forced = await console.page.request.post(
            f"{console.url}/ui/accounts/{account_id}/{tab}",
            form={"csrf_token": await console.csrf(), "project": "Stolen"},
            max_redirects=0,
        )
        assert forced.status == 403, (tab, forced.status)
    await expect(console.page.locator("#auto_reply-enabled")).to_be_checked()
    await console.shot("console-account-auto-reply-read-only")
    assert (await _stored(console, account_id)).project == "Support"
