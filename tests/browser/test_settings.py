"""The Settings screens in a real browser: the SMTP server (a custom one on the stack's Postfix,
a test mail through it, a refused one in the server's words, back to built-in), workflows,
people, and API keys (a new key shown once, signing in with it, revoking it), and what a read
key sees of them (no forms, 403 on the keys)."""

import re

import pytest
from playwright.async_api import Browser, Page, expect

from postroom_shared.apikeys import new_api_key
from postroom_shared.models import Person, Workflow, WorkflowStep
from tests.browser.conftest import Console
from tests.stack_env import StackEnv

pytestmark = [pytest.mark.stack, pytest.mark.browser]


async def _save_smtp(page: Page, port: int) -> None:
    await page.fill("#host", "127.0.0.1")
    await page.fill("#port", str(port))
    await page.select_option("#security", "none")
    await page.select_option("#auth", "none")
    await page.click("#smtp-form button[type=submit]")


async def _send_test_mail(page: Page) -> str:
    await page.fill("#to", "alice@example.test")
    await page.fill("#from_address", "support@example.test")
    await page.click("#test-form button[type=submit]")
    answer = page.locator("#test-answer .answer")
    await expect(answer).to_have_count(1, timeout=30_000)
    return await answer.inner_text()


async def test_smtp_custom_server_test_mail_refusal_and_back_to_built_in(
    console: Console, stack: StackEnv
) -> None:
    page = console.page
    await console.sign_in()
    await page.goto(f"{console.url}/ui/smtp")
    await expect(page.locator("#in-use")).to_contain_text("the built-in relay")
    await console.shot("console-smtp-built-in")
    # invalid: the JSON route's 422, next to its field; nothing stored
    await page.fill("#host", "bad host!")
    await page.click("#smtp-form button[type=submit]")
    await expect(page.locator("#host-error")).to_be_visible()
    assert await page.locator("#host").get_attribute("aria-invalid") == "true"
    assert await console.store.get_smtp_settings() is None
    await console.shot("console-smtp-invalid")
    # the stack's Postfix as a custom server; a test mail through it is accepted
    await _save_smtp(page, stack.smtp_port)
    await page.wait_for_url(re.compile(r"/ui/smtp\?done=saved"))
    await expect(page.locator("#in-use")).to_contain_text(f"127.0.0.1:{stack.smtp_port}")
    stored = await console.store.get_smtp_settings()
    assert stored is not None and (stored.host, stored.port) == ("127.0.0.1", stack.smtp_port)
    said = await _send_test_mail(page)
    print("test mail:", said)
    assert "queued" in said and await page.locator("#test-answer .answer.ok").count() == 1
    await console.shot("console-smtp-custom-test-mail")
    # a port nobody listens on: the answer is the refusal itself
    await _save_smtp(page, stack.base + 999)
    await page.wait_for_url(re.compile(r"/ui/smtp\?done=saved"))
    said = await _send_test_mail(page)
    print("refused test mail:", said)
    assert await page.locator("#test-answer .answer.error").count() == 1
    assert f"127.0.0.1:{stack.base + 999}" in said and "Connect call failed" in said
    await console.shot("console-smtp-test-mail-refused")
    # back to built-in, after a confirmation
    await page.click("#to-builtin")
    await page.wait_for_url(f"{console.url}/ui/smtp/builtin")
    await console.shot("console-smtp-back-to-built-in")
    await page.click("#confirm")
    await page.wait_for_url(re.compile(r"/ui/smtp\?done=builtin"))
    await expect(page.locator("#in-use")).to_contain_text("the built-in relay")
    assert await console.store.get_smtp_settings() is None


async def test_smtp_xoauth2_sign_in_button_goes_to_the_sign_in_link(console: Console) -> None:
    page = console.page
    await console.sign_in()
    await page.goto(f"{console.url}/ui/smtp")
    await page.fill("#host", "smtp.gmail.com")
    await page.select_option("#auth", "xoauth2")
    await page.fill("#username", "desk@example.test")
    await page.select_option("#oauth_provider", "google")
    await page.fill("#oauth-client_id", "console-client")
    await page.fill("#oauth-client_secret", "console-secret")
    await page.click("#smtp-form button[type=submit]")
    await page.wait_for_url(re.compile(r"/ui/smtp\?done=saved"))
    await expect(page.locator("#in-use")).to_contain_text("not signed in yet")
    assert await page.locator("#oauth-client_secret").input_value() == ""  # write-only
    await console.shot("console-smtp-xoauth2")
    # the button's answer moves the browser on to the sign-in link (which goes on to Google);
    # test_account_form.py follows it through the test identity provider and back
    started = await page.request.post(
        f"{console.url}/ui/smtp/oauth",
        form={"csrf_token": await console.csrf()},
        max_redirects=0,
    )
    assert started.status == 200, await started.text()
    link = f"{console.url}/oauth/begin?ticket="
    assert f'content="0;url={link}' in await started.text()
    await page.goto(f"{console.url}/ui/smtp/builtin")
    await page.click("#confirm")
    await page.wait_for_url(re.compile(r"/ui/smtp\?done=builtin"))


async def test_workflow_created_edited_refused_and_deleted(console: Console) -> None:
    page = console.page
    await console.sign_in()
    await page.goto(f"{console.url}/ui/workflows")
    await page.click("#new-workflow")
    await page.fill("#name", "Help desk")
    await page.fill("#steps-0-name", "open")
    await page.fill("#steps-1-name", "closed")
    await page.fill("#steps-1-on_new_email", "open")
    await page.click("#more-rows")  # the form again with one more row, nothing saved
    await expect(page.locator("#steps-3-name")).to_have_count(1)
    assert await page.locator("#steps-1-on_new_email").input_value() == "open"
    assert await console.store.list_workflows() == []
    await console.shot("console-workflow-new")
    await page.click("#save")
    await page.wait_for_url(re.compile(r"/ui/workflows/wf_[0-9a-f]+\?saved=1"))
    (workflow,) = await console.store.list_workflows()
    assert [(s.name, s.on_new_email) for s in workflow.steps] == [
        ("open", None),
        ("closed", "open"),
    ]
    # edit: a step more, shown on reload
    await page.fill("#steps-2-name", "waiting")
    await page.click("#save")
    await page.wait_for_url(re.compile(r"\?saved=1"))
    await page.reload()
    assert await page.locator("#steps-2-name").input_value() == "waiting"
    # invalid: a move to a step that does not exist, refused next to its field
    await page.fill("#steps-0-on_new_email", "nowhere")
    await page.click("#save")
    await expect(page.locator("#steps-0-on_new_email-error")).to_contain_text("no step named")
    await console.shot("console-workflow-invalid")
    stored = await console.store.get_workflow(workflow.id)
    assert stored is not None and [s.name for s in stored.steps] == ["open", "closed", "waiting"]
    # in use by an account: deleting is refused with the account's name
    account = await console.store.get_account("acc1")
    assert account is not None
    await console.store.put_account(account.model_copy(update={"workflow_id": workflow.id}))
    await page.goto(f"{console.url}/ui/workflows")
    await console.shot("console-workflows")
    await page.click(f"#workflow-{workflow.id} >> text=Delete…")
    await page.click("#confirm")
    await expect(page.locator("#refused")).to_contain_text("Support")
    await console.shot("console-workflow-delete-refused")
    await console.store.put_account(account)
    await page.click("#confirm")
    await page.wait_for_url(re.compile(r"/ui/workflows\?deleted=1"))
    assert await console.store.list_workflows() == []


async def test_person_created_edited_and_deleted(console: Console) -> None:
    page = console.page
    await console.sign_in()
    await page.goto(f"{console.url}/ui/people")
    await page.click("#new-person")
    await page.fill("#name", "Casey")
    await page.fill("#emails", "casey@example.test\nnot an address")
    await page.click("#save")
    await expect(page.locator("#emails-error")).to_contain_text("entry 2: ")
    await console.shot("console-person-invalid")
    await page.fill("#emails", "casey@example.test\ncasey@home.test")
    await page.click("#save")
    await page.wait_for_url(re.compile(r"/ui/people/cu_[0-9a-f]+\?saved=1"))
    person_id = page.url.split("/")[-1].split("?")[0]
    await page.select_option("#kind", "contact")
    await page.fill("#name", "Casey Jones")
    await page.click("#save")
    await page.wait_for_url(re.compile(r"\?saved=1"))
    person = await console.store.get_person(person_id)
    assert person is not None
    assert (person.kind, person.name) == ("contact", "Casey Jones")
    assert person.emails == ["casey@example.test", "casey@home.test"]
    await console.shot("console-person")
    await page.goto(f"{console.url}/ui/people")
    await expect(page.locator(f"#person-{person_id}")).to_contain_text("Casey Jones")
    await console.shot("console-people")
    await page.click(f"#person-{person_id} >> text=Delete…")
    await console.shot("console-person-delete")
    await page.click("#confirm")
    await page.wait_for_url(re.compile(r"/ui/people\?deleted=1"))
    assert await console.store.get_person(person_id) is None


async def _sign_in_elsewhere(browser: Browser, console: Console, key: str) -> Page:
    other = await browser.new_context()
    page = await other.new_page()
    await page.goto(f"{console.url}/ui/login")
    await page.fill("#api_key", key)
    await page.click("button[type=submit]")
    return page


async def test_api_key_shown_once_signs_in_and_is_revoked(
    console: Console, browser: Browser
) -> None:
    page = console.page
    await console.sign_in()
    await page.goto(f"{console.url}/ui/keys")
    await page.fill("#name", "night shift")
    await page.uncheck("#scope-read")
    await page.check("#scope-agent")
    async with page.expect_navigation() as sent:
        await page.click("#create-key")
    answer = await sent.value
    assert answer is not None and answer.headers["cache-control"] == "no-store"
    key = await page.locator("#new-key").input_value()
    assert key.startswith("pr_key_"), key
    await console.shot("console-key-created")
    (record,) = [k for k in await console.store.list_api_keys() if k.name == "night shift"]
    assert record.scopes == ["agent"] and key.startswith(record.prefix)
    # a reload sends the form again: nothing is created, the key is not shown
    await page.reload()
    await page.wait_for_url(re.compile(r"/ui/keys\?done=shown"))
    assert key not in await page.content()
    assert [k.name for k in await console.store.list_api_keys()].count("night shift") == 1
    await console.shot("console-keys")
    # the key signs in (an agent key: the items)
    agent = await _sign_in_elsewhere(browser, console, key)
    await agent.wait_for_url(f"{console.url}/ui/items")
    # revoke, after a confirmation: the other browser is out, and the key no longer signs in
    await page.goto(f"{console.url}/ui/keys")
    await page.click(f"#key-{record.id} >> text=Revoke…")
    assert await page.locator("#own-key").count() == 0
    await console.shot("console-key-revoke")
    await page.click("#confirm")
    await page.wait_for_url(re.compile(r"/ui/keys\?done=revoked"))
    await agent.goto(f"{console.url}/ui/items")
    await agent.wait_for_url(re.compile(r"/ui/login\?why=the%20API%20key%20was%20revoked"))
    again = await _sign_in_elsewhere(browser, console, key)
    await expect(again.locator("[role=alert]")).to_contain_text("unknown or revoked API key")


async def test_revoking_the_key_of_ones_own_session_warns_and_signs_out(
    console: Console,
) -> None:
    record, key = new_api_key("my admin key", ["admin"])
    await console.store.put_api_key(record)
    page = console.page
    await console.sign_in(key)
    await page.goto(f"{console.url}/ui/keys/{record.id}/revoke")
    await expect(page.locator("#own-key")).to_contain_text("the key you are signed in with")
    await console.shot("console-key-revoke-own")
    await page.click("#confirm")
    await page.wait_for_url(re.compile(r"/ui/login\?why="))
    await expect(page.locator("[role=alert]")).to_contain_text("revoked the key you signed in")


async def test_a_read_key_sees_settings_without_forms_and_no_keys(console: Console) -> None:
    record, key = new_api_key("settings reader", ["read"])
    await console.store.put_api_key(record)
    steps = [WorkflowStep(name="new"), WorkflowStep(name="done", on_new_email="new")]
    await console.store.put_workflow(Workflow(id="wf_read", name="Read me", steps=steps))
    await console.store.put_person(Person(id="cu_read", kind="customer", emails=["r@x.test"]))
    page = console.page
    await console.sign_in(key)
    for screen in ("smtp", "workflows", "workflows/wf_read", "people", "people/cu_read"):
        answer = await page.goto(f"{console.url}/ui/{screen}")
        assert answer is not None and answer.status == 200, screen
        assert await page.locator("main form").count() == 0, screen
    await console.shot("console-person-read-only")
    await page.goto(f"{console.url}/ui/workflows/wf_read")
    await expect(page.locator("#steps")).to_contain_text("done (a new email moves it to new)")
    await page.goto(f"{console.url}/ui/smtp")
    await console.shot("console-smtp-read-only")
    answer = await page.goto(f"{console.url}/ui/keys")
    assert answer is not None and answer.status == 403
    await console.shot("console-keys-forbidden")
    forged = await page.request.post(
        f"{console.url}/ui/workflows/new",
        form={"name": "x", "steps.0.name": "a", "csrf_token": await console.csrf()},
        max_redirects=0,
    )
    assert forged.status == 403, await forged.text()
    assert [w.id for w in await console.store.list_workflows()] == ["wf_read"]
    await console.store.delete_workflow("wf_read")
    await console.store.delete_person("cu_read")
