"""Labels and keyboard use on every console screen, in a real browser: each visible form
control has an accessible name (a <label>, aria-label or aria-labelledby; a button its text),
every page has one <h1>, and the way in works from the keyboard alone (sign in, reach the
accounts, run a slow mailbox action and read its answer)."""

import pytest
from playwright.async_api import expect

from tests.browser.conftest import DEMO, Console
from tests.integration.api_harness import KEY

pytestmark = [pytest.mark.stack, pytest.mark.browser]

# Every screen an admin reaches (an item's page and the demo account's tabs included).
SCREENS = (
    "/ui/dashboard",
    "/ui/items",
    "/ui/items/{item}",
    "/ui/accounts",
    "/ui/accounts/new",
    f"/ui/accounts/{DEMO}",
    f"/ui/accounts/{DEMO}/items",
    f"/ui/accounts/{DEMO}/actions",
    f"/ui/accounts/{DEMO}/auto-reply",
    f"/ui/accounts/{DEMO}/log",
    "/ui/smtp",
    "/ui/templates",
    "/ui/templates/new",
    "/ui/workflows",
    "/ui/workflows/new",
    "/ui/people",
    "/ui/people/new",
    "/ui/keys",
    "/ui/log",
    "/ui/quarantine",
    "/ui/dead-letters",
)

_UNNAMED = """() => Array.from(document.querySelectorAll('input, select, textarea, button'))
  .filter(el => el.type !== 'hidden' && el.offsetParent !== null)
  .filter(el => {
    if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return false;
    if (el.tagName === 'BUTTON') return !el.textContent.trim();
    if (['submit', 'button', 'reset'].includes(el.type)) return !el.value;
    return !(el.labels && el.labels.length) && !el.title;
  })
  .map(el => el.outerHTML.slice(0, 160))"""


async def test_every_control_on_every_screen_has_a_name(console: Console) -> None:
    page = console.page
    await console.sign_in()
    unnamed: dict[str, list[str]] = {}
    for path in SCREENS:
        url = console.url + path.format(item=console.item_id)
        answer = await page.goto(url)
        assert answer is not None and answer.status == 200, (path, answer and answer.status)
        await expect(page.locator("h1")).to_have_count(1)
        found = await page.evaluate(_UNNAMED)
        if found:
            unnamed[path] = found
    assert unnamed == {}, unnamed


async def test_the_way_in_works_from_the_keyboard(console: Console) -> None:
    page = console.page
    await page.goto(f"{console.url}/ui/login")
    for _ in range(10):  # Tab to the key field: no mouse
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.id") == "api_key":
            break
    else:
        pytest.fail("the API key field is not reachable with Tab")
    await page.keyboard.type(KEY)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{console.url}/ui/dashboard")

    accounts = page.locator("nav a", has_text="Accounts")
    await accounts.focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{console.url}/ui/accounts")
    refresh = page.locator(f"#account-{DEMO} button.refresh")
    await refresh.focus()
    await page.keyboard.press("Enter")  # a real <button>: Enter runs the htmx request
    await expect(page.locator(f"#refresh-{DEMO}")).to_contain_text("connection ok", timeout=20_000)
