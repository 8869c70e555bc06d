"""Routes that talk to the mailbox, against the stack's real Dovecot: the folder list, the
waiting count before activation, refresh (test + fetch now), and errors that name the cause
(wrong password, nothing listening) as 424/ok=false, never a 5xx."""

import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from imapclient import IMAPClient

from postroom_fetcher.domain.leases import FETCH_NOW_KEY, FETCH_NOW_NAMESPACE
from tests.integration.api_harness import Api, running_api
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
USER = "bob"


@pytest.fixture
async def api(stack: StackEnv, store_url: str) -> AsyncIterator[Api]:
    async with running_api(stack, store_url) as running:
        yield running


@pytest.fixture
def folder(stack: StackEnv) -> Iterator[str]:
    """A fresh folder with three messages, so parallel tests never count each other's mail."""
    name = f"Api{secrets.token_hex(4)}"
    client = IMAPClient("127.0.0.1", port=stack.imap_port, ssl=False, timeout=10)
    client.login(f"{USER}@example.test", USER)
    client.create_folder(name)
    for n in range(3):
        msg = EmailMessage()
        msg["From"] = "customer@example.test"
        msg["Subject"] = f"waiting {n}"
        msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.test>"
        msg.set_content("x")
        client.append(name, msg.as_bytes())
    try:
        yield name
    finally:
        client.delete_folder(name)
        client.logout()


def account(stack: StackEnv, folder: str, password: str = USER, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"Bob {secrets.token_hex(3)}",
        "address": f"{USER}@example.test",
        "project": "Desk",
        "mailbox": {
            "host": "127.0.0.1",
            "port": stack.imap_port,
            "security": "none",
            "username": f"{USER}@example.test",
            "password": password,
            "folder": folder,
        },
    }
    body.update(changes)
    return body


async def test_folders_waiting_and_refresh(api: Api, stack: StackEnv, folder: str) -> None:
    created = await api.post("/v1/accounts", json=account(stack, folder))
    assert created.status_code == 201, created.text
    path = f"/v1/accounts/{created.json()['id']}"
    listed = await api.get(f"{path}/folders")
    assert listed.status_code == 200, listed.text
    assert {"INBOX", folder} <= set(listed.json()["folders"])
    assert (await api.get(f"{path}/waiting")).json() == {"waiting": 3}
    refreshed = (await api.post(f"{path}/refresh")).json()
    assert refreshed == {"ok": True, "error": None, "error_kind": None, "fetch_requested": False}
    await api.post(f"{path}/activate")
    assert (await api.post(f"{path}/refresh")).json()["fetch_requested"] is True
    flagged = await api.store.seen_keys(created.json()["id"], FETCH_NOW_NAMESPACE, [FETCH_NOW_KEY])
    assert flagged == {FETCH_NOW_KEY}


async def test_errors_name_the_cause(api: Api, stack: StackEnv, folder: str) -> None:
    wrong = (await api.post("/v1/accounts", json=account(stack, folder, "nope"))).json()
    path = f"/v1/accounts/{wrong['id']}"
    for sub in ("folders", "waiting"):
        response = await api.get(f"{path}/{sub}")
        assert response.status_code == 424, response.text
        assert response.json()["error_kind"] == "auth" and response.json()["permanent"] is True
        assert response.json()["detail"]
    refreshed = (await api.post(f"{path}/refresh")).json()
    assert refreshed["ok"] is False and refreshed["error_kind"] == "auth"
    assert refreshed["error"] and refreshed["fetch_requested"] is False

    missing = account(stack, folder + "Gone")
    gone = (await api.post("/v1/accounts", json=missing)).json()
    response = await api.get(f"/v1/accounts/{gone['id']}/waiting")
    assert response.status_code == 424 and response.json()["error_kind"] == "folder"

    closed = account(stack, folder)
    closed["mailbox"]["port"] = stack.base + 999  # nothing listens there
    nobody = (await api.post("/v1/accounts", json=closed)).json()
    response = await api.get(f"/v1/accounts/{nobody['id']}/folders")
    assert response.status_code == 424 and response.json()["error_kind"] == "network"
    assert response.json()["permanent"] is False

    push = {"name": "Form", "address": "f@x.test", "project": "P", "provider": "push"}
    pushed = (await api.post("/v1/accounts", json=push)).json()
    for method, sub in (("GET", "folders"), ("GET", "waiting"), ("POST", "refresh")):
        assert (await api.call(method, f"/v1/accounts/{pushed['id']}/{sub}")).status_code == 409
        assert (await api.call(method, f"/v1/accounts/acc_none/{sub}")).status_code == 404


async def test_pop3_waiting_count(api: Api, stack: StackEnv) -> None:
    body = account(stack, "INBOX", provider="pop3")
    body["mailbox"]["port"] = stack.pop3_port
    body["after_read"] = "leave_unread"
    created = (await api.post("/v1/accounts", json=body)).json()
    path = f"/v1/accounts/{created['id']}"
    assert (await api.get(f"{path}/folders")).json() == {"folders": ["INBOX"]}
    waiting = await api.get(f"{path}/waiting")
    assert waiting.status_code == 200 and waiting.json()["waiting"] >= 0
    assert (await api.post(f"{path}/refresh")).json()["ok"] is True
