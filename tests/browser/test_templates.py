"""The Templates screen in a real browser: a new template previews as the admin types and is
saved; one that does not render is refused with the reason next to its field; a template in use
cannot be deleted (the confirmation page names its accounts), an unused one can; a read key
sees the templates without forms."""

import asyncio
import re

import pytest
from playwright.async_api import Route, expect

from postroom_shared.apikeys import new_api_key
from postroom_shared.models import AutoReplySettings, NotificationTemplate
from tests import factories
from tests.browser.conftest import Console
from tests.integration.api_harness import KEY

pytestmark = [pytest.mark.stack, pytest.mark.browser]


async def _by_name(console: Console, name: str) -> NotificationTemplate | None:
    return next((t for t in await console.store.list_templates() if t.name == name), None)


async def test_a_new_template_previews_as_one_types_and_is_saved(console: Console) -> None:
    page = console.page
    said: list[str] = []
    page.on("console", lambda message: said.append(message.text))
    await console.sign_in()
    await page.click("nav >> text=Settings")
    await page.click("nav >> text=Templates")
    await page.wait_for_url(f"{console.url}/ui/templates")
    await page.click("#new-template")
    await page.fill("#name", "Welcome")

    async def slowly(route: Route) -> None:  # long enough to see the progress for certain
        await asyncio.sleep(0.7)
        await route.continue_()

    await page.route(re.compile(r"/ui/templates/preview$"), slowly)
    await page.fill(
        "#text", "Dear {{ message.sender_name }}, {{ item.token }} is {{ item.status }}."
    )
    await expect(page.locator("#preview-busy")).to_be_visible()
    await expect(page.locator("#preview-text")).to_have_text(
        re.compile(r"^Dear .+, INC-42 is \w+\.$")
    )
    await expect(page.locator("#preview-subject")).to_contain_text("[INC-42]")
    await page.fill("#html", "<p>Dear {{ message.sender_name }}</p><script>x()</script>")
    await expect(page.locator("#preview-html")).to_contain_text("<p>Dear")  # shown as source
    await console.shot("console-templates-editor")
    await page.click("#save-template")
    await expect(page.locator("#saved")).to_be_visible()
    saved = await _by_name(console, "Welcome")
    assert saved is not None and saved.text.startswith("Dear {{ message.sender_name }}")
    assert saved.html is not None and "<script>" in saved.html  # stored as typed; sent escaped
    await page.reload()
    await expect(page.locator("#text")).to_have_value(saved.text)
    answer = await page.request.get(
        f"{console.url}/v1/templates/{saved.id}", headers={"Authorization": f"Bearer {KEY}"}
    )
    assert (await answer.json())["text"] == saved.text
    await page.goto(f"{console.url}/ui/templates")
    await expect(page.locator(f"#template-{saved.id}")).to_contain_text("no account")
    await console.shot("console-templates")
    assert not [text for text in said if "Content Security Policy" in text], said


async def test_a_template_that_does_not_render_is_refused_next_to_its_field(
    console: Console,
) -> None:
    page = console.page
    await console.sign_in()
    await page.goto(f"{console.url}/ui/templates/new")
    await page.fill("#name", "Broken")
    await page.fill("#subject", "{{ item.token ")
    await expect(page.locator("#live-error-subject")).to_contain_text("TemplateSyntaxError")
    await expect(page.locator("#live-error-text")).to_be_empty()
    await page.fill("#text", "fine")
    await page.click("#save-template")
    await expect(page.locator("#subject-error")).to_contain_text("TemplateSyntaxError")
    await expect(page.locator("#subject")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#subject")).to_have_value("{{ item.token ")  # kept to correct
    await console.shot("console-templates-invalid")
    assert await _by_name(console, "Broken") is None


async def test_a_template_in_use_cannot_be_deleted_an_unused_one_can(console: Console) -> None:
    page = console.page
    used = NotificationTemplate(id="tpl_used", name="Used", text="used")
    spare = NotificationTemplate(id="tpl_spare", name="Spare", text="spare")
    for template in (used, spare):
        await console.store.put_template(template)
    account = factories.account("acc_tpl_user", "tpl@example.test")
    update = {"name": "Uses a template", "auto_reply": AutoReplySettings(template_id="tpl_used")}
    await console.store.put_account(account.model_copy(update=update))
    await console.sign_in()
    await page.goto(f"{console.url}/ui/templates")
    await expect(page.locator("#template-tpl_used")).to_contain_text("Uses a template")
    await page.locator("#template-tpl_used a.delete").click()
    await expect(page.locator("#users")).to_have_text("Uses a template")
    assert await page.locator("main form").count() == 0
    await console.shot("console-templates-delete-in-use")
    forced = await page.request.post(
        f"{console.url}/ui/templates/tpl_used/delete", form={"csrf_token": await console.csrf()}
    )
    assert forced.status == 409
    assert await console.store.get_template("tpl_used") is not None

    await page.goto(f"{console.url}/ui/templates/tpl_spare")
    await page.click("#delete-template")
    await expect(page.locator("main")).to_contain_text("No account uses it")
    await console.shot("console-templates-delete")
    await page.click("#confirm-delete")
    await page.wait_for_url(f"{console.url}/ui/templates?deleted=1")
    await expect(page.locator("#template-tpl_spare")).to_have_count(0)
    assert await console.store.get_template("tpl_spare") is None


async def test_a_read_key_sees_templates_without_forms(console: Console) -> None:
    await console.store.put_template(NotificationTemplate(id="tpl_read", name="Read", text="hi"))
    record, key = new_api_key("templates-reader", ["read"])
    await console.store.put_api_key(record)
    await console.sign_in(key)
    page = console.page
    for path in ("/ui/templates", "/ui/templates/tpl_read"):
        await page.goto(f"{console.url}{path}")
        assert await page.locator("main form").count() == 0
        assert await page.locator("main button").count() == 0
    await expect(page.locator("#text")).to_be_disabled()
    await expect(page.locator("#text")).to_have_value("hi")
    await console.shot("console-templates-read-only")
    for path, form in (
        ("/ui/templates", {"name": "x", "text": "y"}),
        ("/ui/templates/tpl_read/delete", {}),
    ):
        forced = await page.request.post(
            f"{console.url}{path}", form={"csrf_token": await console.csrf(), **form}
        )
        assert forced.status == 403, path
    assert await console.store.get_template("tpl_read") is not None
