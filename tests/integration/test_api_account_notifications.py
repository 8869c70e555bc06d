"""An account's notification templates per event, through the API: set, shown, merged by a
PATCH, checked to exist, and kept from deletion while an account uses them."""

from collections.abc import AsyncIterator

import pytest

from postroom_shared.models import NotificationTemplate
from tests.integration.api_harness import Api, problems, running_api
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
PUSH = {"name": "Desk", "address": "desk@example.test", "provider": "push", "project": "Desk"}


@pytest.fixture
async def api(stack: StackEnv, store_url: str) -> AsyncIterator[Api]:
    async with running_api(stack, store_url) as running:
        yield running


async def test_templates_per_event_are_set_shown_merged_and_protected(api: Api) -> None:
    await api.store.put_template(NotificationTemplate(id="tpl_status", name="S", text="s"))
    await api.store.put_template(NotificationTemplate(id="tpl_reply", name="R", text="r"))
    created = await api.post(
        "/v1/accounts", json={**PUSH, "notifications": {"status_changed": "tpl_status"}}
    )
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["notifications"] == {
        "item_created": None,
        "mail_update": None,
        "status_changed": "tpl_status",
        "team_reply": None,
        "team_reply_mail": None,
    }
    patched = await api.patch(
        f"/v1/accounts/{account['id']}", json={"notifications": {"team_reply_mail": "tpl_reply"}}
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["notifications"]["status_changed"] == "tpl_status"  # merged
    assert patched.json()["notifications"]["team_reply_mail"] == "tpl_reply"
    stored = await api.store.get_account(account["id"])
    assert stored is not None and stored.notifications.team_reply_mail == "tpl_reply"

    missing = await api.patch(
        f"/v1/accounts/{account['id']}", json={"notifications": {"team_reply": "tpl_nope"}}
    )
    assert "no notification template" in problems(missing)["notifications.team_reply"]
    unknown = await api.patch(
        f"/v1/accounts/{account['id']}", json={"notifications": {"closed": "tpl_status"}}
    )
    assert unknown.status_code == 422
    for in_use in ("tpl_status", "tpl_reply"):
        assert (await api.delete(f"/v1/templates/{in_use}")).status_code == 409
