"""SMTP settings, notification templates, workflows and people over HTTP on both stores."""

from collections.abc import AsyncIterator

import pytest

from postroom_shared.apikeys import new_api_key
from tests.integration.api_harness import Api, problems, running_api
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack


@pytest.fixture
async def api(stack: StackEnv, store_url: str) -> AsyncIterator[Api]:
    async with running_api(stack, store_url) as running:
        yield running


async def test_smtp_custom_server_and_back_to_the_built_in_relay(api: Api) -> None:
    assert (await api.get("/v1/smtp")).json() == {"mode": "builtin", "custom": None}
    body = {"host": "smtp.example.test", "username": "mailer", "password": "smtp-pw"}
    put = await api.put("/v1/smtp", json=body)
    assert put.status_code == 200, put.text
    assert put.json() == {
        "mode": "custom",
        "custom": {
            "host": "smtp.example.test",
            "port": 587,
            "security": "starttls",
            "verify_tls": True,
            "auth": "password",
            "username": "mailer",
            "password_set": True,
            "oauth": None,
            "oauth_provider": None,
        },
    }
    assert "smtp-pw" not in put.text
    stored = await api.store.get_smtp_settings()
    assert stored is not None and stored.password_enc
    assert api.secrets.decrypt(stored.password_enc) == "smtp-pw"
    # without the password: kept for the same server and login, required for another
    kept = await api.put("/v1/smtp", json={"host": "SMTP.example.test", "username": "mailer"})
    assert kept.status_code == 200 and kept.json()["custom"]["password_set"] is True
    other_port = {"host": "smtp.example.test", "username": "mailer", "port": 465}
    assert "password" in problems(await api.put("/v1/smtp", json=other_port))
    moved = await api.put("/v1/smtp", json={"host": "other.test", "username": "mailer"})
    assert "password" in problems(moved)
    for bad, field in (
        ({"host": "h", "auth": "none", "password": "x"}, "password"),
        ({"host": "h", "auth": "password", "password": "x"}, "username"),
        ({"host": "h", "auth": "xoauth2", "username": "u"}, "oauth"),
        ({"host": "h", "auth": "kerberos"}, "auth"),
        ({"host": "h", "port": 70000}, "port"),
        ({"host": "bad host!"}, "host"),
    ):
        assert field in problems(await api.put("/v1/smtp", json=bad)), bad
    none = await api.put(
        "/v1/smtp", json={"host": "relay.test", "port": 25, "auth": "none", "security": "none"}
    )
    assert none.json()["custom"]["password_set"] is False
    assert (await api.delete("/v1/smtp")).status_code == 204
    assert (await api.delete("/v1/smtp")).status_code == 204
    assert (await api.get("/v1/smtp")).json()["mode"] == "builtin"


async def test_send_test_mail_through_the_relay_and_a_custom_server(
    stack: StackEnv, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the built-in relay comes from POSTROOM_SMTP_*, as the replier reads it
    monkeypatch.setenv("POSTROOM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("POSTROOM_SMTP_PORT", str(stack.smtp_port))
    monkeypatch.setenv("POSTROOM_SMTP_SECURITY", "none")
    async with running_api(stack, store_url) as api:
        to = {"to": "alice@example.test"}
        assert "from_address" in problems(await api.post("/v1/smtp/test", json=to))
        sent = await api.post("/v1/smtp/test", json=to | {"from_address": "support@example.test"})
        assert sent.status_code == 200, sent.text
        assert sent.json()["ok"] is True, sent.json()
        assert "queued" in sent.json()["smtp_response"]
        assert sent.json()["server"] == f"127.0.0.1:{stack.smtp_port}"
        # the test Postfix's certificate is self-signed: verified STARTTLS fails, and says so
        custom = {"host": "127.0.0.1", "port": stack.smtp_port, "auth": "none"}
        assert (await api.put("/v1/smtp", json=custom)).status_code == 200
        account = {
            "name": "S",
            "address": "support@example.test",
            "project": "P",
            "provider": "push",
            "active": True,
        }
        assert (await api.post("/v1/accounts", json=account)).status_code == 201
        failed = (await api.post("/v1/smtp/test", json=to)).json()
        assert failed["ok"] is False and "certificate is not trusted" in failed["error"]
        assert "to" in problems(await api.post("/v1/smtp/test", json={"to": "nobody"}))


async def test_templates_crud(api: Api) -> None:
    created = await api.post("/v1/templates", json={"name": "Ack", "text": "We got it."})
    assert created.status_code == 201, created.text
    template = created.json()
    assert template["subject"] == "{{ item.token_brackets }} {{ message.subject }}"
    path = f"/v1/templates/{template['id']}"
    assert (await api.get(path)).json() == template
    replaced = await api.put(path, json={"name": "Ack", "text": "Thanks", "html": "<p>Thanks</p>"})
    assert replaced.json()["html"] == "<p>Thanks</p>"
    assert [t["id"] for t in (await api.get("/v1/templates")).json()] == [template["id"]]
    assert "text" in problems(await api.post("/v1/templates", json={"name": "x", "text": ""}))
    assert "name" in problems(await api.post("/v1/templates", json={"text": "x"}))
    assert (await api.delete(path)).status_code == 204
    assert (await api.get(path)).status_code == 404
    assert (await api.put(path, json={"name": "a", "text": "b"})).status_code == 404
    assert (await api.delete(path)).status_code == 404


async def test_workflows_with_the_new_email_rule(api: Api) -> None:
    steps = [
        {"name": "new"},
        {"name": "waiting", "on_new_email": "new"},
        {"name": "closed", "on_new_email": "reopened"},
        {"name": "reopened"},
    ]
    created = await api.post("/v1/workflows", json={"name": "Help desk", "steps": steps})
    assert created.status_code == 201, created.text
    workflow = created.json()
    assert workflow["steps"][2] == {"name": "closed", "on_new_email": "reopened"}
    path = f"/v1/workflows/{workflow['id']}"
    assert (await api.get(path)).json() == workflow
    dangling = [{"name": "new"}, {"name": "closed", "on_new_email": "reopen"}]
    found = problems(await api.put(path, json={"name": "Help desk", "steps": dangling}))
    assert found == {"steps.1.on_new_email": "no step named 'reopen' in this workflow"}
    twice = [{"name": "new"}, {"name": "new"}]
    assert "steps.1.name" in problems(
        await api.post("/v1/workflows", json={"name": "x", "steps": twice})
    )
    assert "steps" in problems(await api.post("/v1/workflows", json={"name": "x", "steps": []}))
    shorter = await api.put(path, json={"name": "Desk", "steps": [{"name": "open"}]})
    assert shorter.json()["name"] == "Desk"
    assert len((await api.get("/v1/workflows")).json()) == 1
    assert (await api.delete(path)).status_code == 204
    assert (await api.get(path)).status_code == 404


async def test_people_crud_and_address_clash(api: Api) -> None:
    created = await api.post(
        "/v1/people",
        json={"kind": "customer", "name": "Casey", "emails": ["Casey@Example.test", "c@x.test"]},
    )
    assert created.status_code == 201, created.text
    casey = created.json()
    assert casey["emails"] == ["casey@example.test", "c@x.test"]
    assert casey["id"].startswith("cu_")
    clash = await api.post("/v1/people", json={"kind": "user", "emails": ["CASEY@example.test"]})
    assert clash.status_code == 409
    user = (
        await api.post("/v1/people", json={"kind": "user", "name": "Uma", "emails": ["uma@x.test"]})
    ).json()
    path = f"/v1/people/{casey['id']}"
    assert (await api.get(path)).json() == casey
    moved = await api.put(
        path, json={"kind": "customer", "name": "Casey C", "emails": ["uma@x.test"]}
    )
    assert moved.status_code == 409
    renamed = await api.put(
        path, json={"kind": "customer", "name": "Casey C", "emails": ["casey@example.test"]}
    )
    assert renamed.status_code == 200 and renamed.json()["created_at"] == casey["created_at"]
    found = await api.store.find_person("c@x.test")
    assert found is None  # the address was released
    users = (await api.get("/v1/people", params={"kind": "user"})).json()
    assert [p["id"] for p in users] == [user["id"]]
    assert len((await api.get("/v1/people")).json()) == 2
    assert "kind" in problems(await api.get("/v1/people", params={"kind": "robot"}))
    assert "emails" in problems(await api.post("/v1/people", json={"kind": "user", "emails": []}))
    assert "emails.0" in problems(
        await api.post("/v1/people", json={"kind": "user", "emails": ["nope"]})
    )
    assert (await api.delete(path)).status_code == 204
    assert (await api.get(path)).status_code == 404
    assert (await api.delete(path)).status_code == 404


def _url(path: str) -> str:
    """An OpenAPI path with made-up ids (the scope check comes before any lookup)."""
    return path.format(
        account_id="acc_x",
        item_id="it_x",
        message_id="m_" + "0" * 24,
        index=0,
        template_id="tpl_x",
        workflow_id="wf_x",
        person_id="p_x",
        entry_id="q_x",
        queue="converter.mail.received.v1",
        key_id="key_x",
    )


async def test_read_keys_read_and_only_admin_keys_change_configuration(api: Api) -> None:
    record, read_key = new_api_key("dashboard", ["read"])
    await api.store.put_api_key(record)
    read = {"Authorization": f"Bearer {read_key}"}
    paths = (await api.get("/openapi.json")).json()["paths"]
    mine = [
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if path.startswith("/v1/")
        and not path.startswith(("/v1/api-keys", "/v1/push"))
        and not path.endswith("/mail")
    ]
    assert len(mine) > 40
    # these log in to the mailbox with its stored secret: admin only, even though they GET
    secret_using = {"/v1/accounts/{account_id}/folders", "/v1/accounts/{account_id}/waiting"}
    # dead letters hold whole events (mail included), and reading them takes them off the
    # queue and puts them back: admin only, even though they GET
    secret_using |= {path for _, path in mine if path.startswith("/v1/deadletters")}
    for method, path in mine:
        response = await api.client.request(method, _url(path), headers=read, json={})
        if method == "GET" and path not in secret_using:
            assert response.status_code != 403, (method, path, response.text)
        else:
            assert response.status_code == 403, (method, path, response.status_code)


async def test_agent_keys_work_items_and_touch_no_configuration(api: Api) -> None:
    record, agent_key = new_api_key("helpdesk", ["agent"])
    await api.store.put_api_key(record)
    agent = {"Authorization": f"Bearer {agent_key}"}
    paths = (await api.get("/openapi.json")).json()["paths"]
    every = [
        (method.upper(), path)
        for path, operations in paths.items()
        for method in operations
        if path.startswith("/v1/")
    ]
    # items: read and worked on; people: read (to find whom to assign)
    item_writes = {
        ("PATCH", "/v1/items/{item_id}"),
        ("POST", "/v1/items/{item_id}/notes"),
        ("POST", "/v1/items/{item_id}/replies"),
        ("PUT", "/v1/items/{item_id}/notify"),
    }
    allowed = item_writes | {
        (method, path)
        for method, path in every
        if method == "GET" and path.startswith(("/v1/items", "/v1/people"))
    }
    assert len(item_writes & set(every)) == 4 and len(allowed) >= 9
    for method, path in every:
        response = await api.client.request(method, _url(path), headers=agent, json={})
        if (method, path) in allowed:
            assert response.status_code != 403, (method, path, response.text)
        else:
            assert response.status_code == 403, (method, path, response.status_code)
