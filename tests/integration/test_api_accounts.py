"""Email accounts over HTTP (docs/features.md F2-F5, F8) on both stores: validation that names the
field, write-only secrets, copy, activation, connection state."""

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from postroom_shared.models import AccountState, NotificationTemplate, Person, utcnow
from tests.integration.api_harness import Api, problems, running_api
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack


@pytest.fixture
async def api(stack: StackEnv, store_url: str) -> AsyncIterator[Api]:
    async with running_api(stack, store_url) as running:
        yield running


def imap(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Support",
        "address": "Support@Example.test",
        "project": "Help desk",
        "mailbox": {"host": "imap.example.test", "username": "support", "password": "pw-1"},
    }
    body.update(changes)
    return body


async def test_create_read_list_with_documented_defaults(api: Api) -> None:
    created = await api.post("/v1/accounts", json=imap())
    assert created.status_code == 201, created.text
    account = created.json()
    assert created.headers["location"] == f"/v1/accounts/{account['id']}"
    assert account["address"] == "support@example.test"
    assert account["active"] is False  # activation imports the whole folder: explicit step
    assert account["provider"] == "imap" and account["item_type"] == "incident"
    assert account["after_read"] == "delete"
    assert account["mailbox"] == {
        "host": "imap.example.test",
        "port": 993,
        "security": "tls",
        "verify_tls": True,
        "username": "support",
        "folder": "INBOX",
        "password_set": True,
    }
    assert account["auto_reply"] == {
        "enabled": True,
        "send_to_cc": False,
        "first_mail_only": True,
        "template_id": None,
        "honour_reply_to": False,
    }
    assert account["items"]["field_mapping"]["title"] == "subject"
    assert account["items"]["map_sender"] is True
    assert account["items"]["no_separate_notification_for_new"] is True
    assert account["items"]["add_sender_to_notifications"] is False
    assert (await api.get(f"/v1/accounts/{account['id']}")).json() == account
    assert [a["id"] for a in (await api.get("/v1/accounts")).json()] == [account["id"]]
    stored = await api.store.get_account(account["id"])
    assert stored is not None and stored.mailbox is not None and stored.mailbox.password_enc
    assert api.secrets.decrypt(stored.mailbox.password_enc) == "pw-1"
    for text in ((await api.get("/v1/accounts")).text, created.text):
        assert "pw-1" not in text and "password_enc" not in text and "v1:" not in text
    # projects and item types come from the configuration
    projects = (await api.get("/v1/projects")).json()
    assert projects == [{"name": "Help desk", "account_ids": [account["id"]]}]
    types = {t["id"]: t["token_prefix"] for t in (await api.get("/v1/item-types")).json()}
    assert types == {"incident": "INC", "user_story": "US", "defect": "DEF"}


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"project": None}, "project", "string"),
        ({"provider": "imap", "mailbox": None}, "mailbox", "needs mailbox"),
        ({"provider": "microsoft"}, "oauth", "needs oauth"),
        ({"provider": "pop3", "after_read": "mark_read"}, "after_read", "POP3"),
        ({"mailbox": {"username": "u"}}, "mailbox.host", "required"),
        ({"provider": "push"}, "mailbox", "no mailbox"),
        ({"item_type": "task"}, "item_type", "incident"),
        ({"poll_interval_s": 0}, "poll_interval_s", "greater than or equal"),
        ({"address": "not-an-address"}, "address", "local-part@domain"),
        ({"auto_reply": {"enabled": True, "sent_to_cc": True}}, "auto_reply.sent_to_cc", "xtra"),
        (
            {"items": {"field_mapping": {"colour": "subject"}}},
            "items.field_mapping.colour.[key]",
            "pattern",
        ),
        ({"on_reply": {"move_workflow_step": True}}, "on_reply.move_workflow_step", "workflow"),
        ({"workflow_id": "wf_missing"}, "workflow_id", "no workflow"),
        ({"notification_template_id": "tpl_nope"}, "notification_template_id", "no notification"),
        ({"creator": "us_nobody"}, "creator", "no user"),
        ({"active": True, "mailbox": {"host": "h", "username": "u"}}, "active", "password"),
        ({"name": "x\ud800"}, "", "surrogate"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field(
    api: Api, body: dict[str, Any], field: str, words: str
) -> None:
    # json.dumps escapes the lone surrogate as JSON allows; httpx's own encoder would refuse it
    content = json.dumps(imap(**body))
    headers = {"Content-Type": "application/json"}
    response = await api.post("/v1/accounts", content=content, headers=headers)
    found = problems(response)
    assert field in found, found
    assert words in found[field], found


async def test_references_must_exist_and_names_are_unique(api: Api) -> None:
    await api.store.put_template(NotificationTemplate(id="tpl_1", name="Reply", text="Hi"))
    await api.store.put_person(Person(id="us_1", kind="user", name="Ann", emails=["a@x.test"]))
    wf = await api.post("/v1/workflows", json={"name": "Desk", "steps": [{"name": "new"}]})
    body = imap(
        auto_reply={"template_id": "tpl_1"},
        notification_template_id="tpl_1",
        creator="us_1",
        workflow_id=wf.json()["id"],
        on_reply={"change_status_to": "open", "move_workflow_step": True},
    )
    created = await api.post("/v1/accounts", json=body)
    assert created.status_code == 201, created.text
    clash = await api.post("/v1/accounts", json=imap())
    assert clash.status_code == 409 and "Support" in clash.json()["detail"]
    # what accounts use cannot be deleted
    assert (await api.delete("/v1/templates/tpl_1")).status_code == 409
    assert (await api.delete(f"/v1/workflows/{wf.json()['id']}")).status_code == 409
    assert (await api.delete("/v1/people/us_1")).status_code == 409


async def test_secrets_are_kept_on_update_and_never_sent_to_a_new_host(api: Api) -> None:
    account = (await api.post("/v1/accounts", json=imap())).json()
    path = f"/v1/accounts/{account['id']}"
    without_password = imap(mailbox={"host": "imap.example.test", "username": "support"})
    replaced = await api.put(path, json=without_password | {"project": "Other"})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["mailbox"]["password_set"] is True
    assert replaced.json()["project"] == "Other"
    moved = await api.put(path, json=imap(mailbox={"host": "evil.test", "username": "support"}))
    assert "mailbox.password" in problems(moved)
    # PATCH merges: the folder alone, password kept
    patched = await api.patch(path, json={"mailbox": {"folder": "Support"}, "use_idle": False})
    assert patched.status_code == 200, patched.text
    assert patched.json()["mailbox"]["folder"] == "Support"
    assert patched.json()["mailbox"]["password_set"] is True
    assert patched.json()["use_idle"] is False and patched.json()["project"] == "Other"
    stored = await api.store.get_account(account["id"])
    assert stored is not None and stored.mailbox is not None and stored.mailbox.password_enc
    assert api.secrets.decrypt(stored.mailbox.password_enc) == "pw-1"
    # a new password replaces it
    await api.patch(path, json={"mailbox": {"password": "pw-2"}})
    stored = await api.store.get_account(account["id"])
    assert stored is not None and stored.mailbox is not None and stored.mailbox.password_enc
    assert api.secrets.decrypt(stored.mailbox.password_enc) == "pw-2"
    bad_patch = await api.patch(path, json={"mailbox": {"port": 0}, "colour": 1})
    assert {"colour"} <= set(problems(bad_patch))
    bad_patch = await api.patch(path, json={"mailbox": {"port": 0}})
    assert "mailbox.port" in problems(bad_patch)
    assert (await api.patch("/v1/accounts/acc_none", json={})).status_code == 404
    assert (await api.put("/v1/accounts/acc_none", json=imap())).status_code == 404


async def test_oauth_accounts_keep_their_sign_in_while_the_client_stays(api: Api) -> None:
    body = {
        "name": "Outlook",
        "address": "help@contoso.test",
        "project": "Desk",
        "provider": "microsoft",
        "mailbox": {"username": "help@contoso.test"},
        "oauth": {"client_id": "app-1", "client_secret": "cs-1", "tenant": "contoso.test"},
    }
    created = await api.post("/v1/accounts", json=body)
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["mailbox"]["host"] == "outlook.office365.com"
    assert account["mailbox"]["port"] == 993
    assert account["oauth"]["client_secret_set"] is True
    assert account["oauth"]["refresh_token_set"] is False
    assert "cs-1" not in created.text
    path = f"/v1/accounts/{account['id']}"
    # not signed in yet: cannot be activated
    refused = await api.post(f"{path}/activate")
    assert refused.status_code == 409 and "oauth/start" in refused.json()["detail"]
    assert await api.store.set_refresh_token(account["id"], api.secrets.encrypt("rt-1"))
    same_client = {**body, "oauth": {"client_id": "app-1", "tenant": "contoso.test"}}
    kept = (await api.put(path, json=same_client)).json()
    assert kept["oauth"]["refresh_token_set"] and kept["oauth"]["client_secret_set"]
    assert (await api.post(f"{path}/activate")).json()["active"] is True
    other_client = {**body, "oauth": {"client_id": "app-2", "tenant": "contoso.test"}}
    assert "oauth.client_secret" in problems(await api.put(path, json=other_client))
    password = {**body, "mailbox": {"username": "u", "password": "p"}}
    assert "mailbox.password" in problems(await api.put(path, json=password))
    google = {
        **body,
        "provider": "google",
        "oauth": {"client_id": "g", "flow": "client_credentials"},
    }
    assert "oauth.flow" in problems(await api.put(path, json=google))


async def test_copy_is_inactive_and_has_no_secrets(api: Api) -> None:
    account = (await api.post("/v1/accounts", json=imap(active=True))).json()
    assert account["active"] is True
    path = f"/v1/accounts/{account['id']}"
    copy = await api.post(f"{path}/copy")
    assert copy.status_code == 201, copy.text
    assert copy.json()["name"] == "Support (copy)"
    assert copy.json()["active"] is False and copy.json()["mailbox"]["password_set"] is False
    assert copy.json()["project"] == "Help desk" and copy.json()["id"] != account["id"]
    second = await api.post(f"{path}/copy", json={})
    assert second.json()["name"] == "Support (copy 2)"
    named = await api.post(f"{path}/copy", json={"name": "Support EU"})
    assert named.json()["name"] == "Support EU"
    assert (await api.post(f"{path}/copy", json={"name": "Support EU"})).status_code == 409
    assert (await api.post("/v1/accounts/acc_none/copy")).status_code == 404
    # the copy cannot be activated before it has a password of its own
    refused = await api.post(f"/v1/accounts/{copy.json()['id']}/activate")
    assert refused.status_code == 409 and "password" in refused.json()["detail"]


async def test_activate_deactivate_state_delete(api: Api) -> None:
    account = (await api.post("/v1/accounts", json=imap())).json()
    path = f"/v1/accounts/{account['id']}"
    assert (await api.post(f"{path}/activate")).json()["active"] is True
    assert (await api.post(f"{path}/activate")).json()["active"] is True  # idempotent
    assert (await api.post(f"{path}/deactivate")).json()["active"] is False
    state = (await api.get(f"{path}/state")).json()
    assert state["status"] == "unknown" and state["needs_reauthorisation"] is False
    since = utcnow()
    await api.store.put_account_state(
        AccountState(
            account_id=account["id"],
            status="needs_reauth",
            error_kind="consent_revoked",
            last_error="consent revoked: sign in again",
            since=since,
            failures=3,
        )
    )
    state = (await api.get(f"{path}/state")).json()
    assert state["needs_reauthorisation"] is True and state["failures"] == 3
    assert state["last_error"] == "consent revoked: sign in again"
    assert (await api.delete(path)).status_code == 204
    for method, sub in (("GET", ""), ("DELETE", ""), ("GET", "/state"), ("POST", "/activate")):
        assert (await api.call(method, path + sub)).status_code == 404
    assert (await api.get("/v1/accounts/bad id!")).status_code == 422


async def test_push_and_pop3_accounts(api: Api) -> None:
    push = await api.post(
        "/v1/accounts",
        json={
            "name": "Web form",
            "address": "form@x.test",
            "project": "P",
            "provider": "push",
            "active": True,
        },
    )
    assert push.status_code == 201, push.text
    assert push.json()["mailbox"] is None and push.json()["active"] is True
    pop = await api.post(
        "/v1/accounts",
        json=imap(
            name="Pop",
            provider="pop3",
            after_read="leave_unread",
            mailbox={"host": "pop.x.test", "username": "u", "password": "p", "security": "none"},
        ),
    )
    assert pop.status_code == 201, pop.text
    assert pop.json()["mailbox"]["port"] == 110
    folder = await api.patch(f"/v1/accounts/{pop.json()['id']}", json={"mailbox": {"folder": "X"}})
    assert "mailbox.folder" in problems(folder)
