"""A stored secret is kept only while everything that decides where it goes is unchanged
(postroom_api.kept_secrets): every such field of an account (PUT and PATCH) and of the SMTP
server (PUT) makes the password and the client secret required again (422 naming the field)
and drops the refresh token; other changes keep them."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from postroom_api.account_edits import merge
from tests.integration.api_harness import Api, problems, running_api
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack

IMAP: dict[str, Any] = {
    "name": "Desk",
    "address": "desk@example.test",
    "project": "P",
    "provider": "imap",
    "mailbox": {
        "host": "imap.example.test",
        "port": 993,
        "security": "tls",
        "verify_tls": True,
        "username": "desk",
        "password": "imap-pw",
    },
}
GOOGLE: dict[str, Any] = {
    "name": "Gmail desk",
    "address": "desk@example.test",
    "project": "P",
    "provider": "google",
    "mailbox": {"port": 993, "security": "tls", "username": "desk@example.test"},
    "oauth": {"client_id": "cid", "client_secret": "cs", "refresh_token": "rt"},
}
# What must drop the secrets, as a PATCH body; the field its 422 message names.
MAILBOX_MOVES = [
    ({"mailbox": {"host": "imap.evil.example"}}, "mailbox.host"),
    ({"mailbox": {"port": 1993}}, "mailbox.port"),
    ({"mailbox": {"security": "none", "verify_tls": False}}, "mailbox.security"),
    ({"mailbox": {"verify_tls": False}}, "mailbox.verify_tls"),
    ({"mailbox": {"username": "someone-else"}}, "mailbox.username"),
]
OAUTH_MOVES = [
    *MAILBOX_MOVES,
    ({"provider": "microsoft"}, "provider"),
    ({"oauth": {"client_id": "other"}}, "oauth.client_id"),
    ({"oauth": {"tenant": "other.example"}}, "oauth.tenant"),
    ({"oauth": {"token_url": "https://idp.evil.example/token"}}, "oauth.token_url"),
    ({"oauth": {"auth_url": "https://idp.evil.example/auth"}}, "oauth.auth_url"),
    ({"oauth": {"authority_url": "https://idp.evil.example/t"}}, "oauth.authority_url"),
]


@pytest.fixture
async def api(stack: StackEnv, sqlite_url: str) -> AsyncIterator[Api]:
    async with running_api(stack, sqlite_url) as running:
        yield running


def _without_secrets(body: dict[str, Any]) -> dict[str, Any]:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in body.items()}
    for part, secret in (("mailbox", "password"), ("oauth", "client_secret")):
        out.get(part, {}).pop(secret, None)
    out.get("oauth", {}).pop("refresh_token", None)
    return out


async def _create(api: Api, body: dict[str, Any]) -> str:
    created = await api.post("/v1/accounts", json=body)
    assert created.status_code == 201, created.text
    account_id: str = created.json()["id"]
    return account_id


def _named(response: Any, field: str, why: str) -> None:
    found = problems(response)
    assert field in found, found
    assert why in found[field], found


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
@pytest.mark.parametrize(("change", "why"), [*MAILBOX_MOVES, ({"provider": "pop3"}, "provider")])
async def test_the_imap_password_is_required_again(
    api: Api, method: str, change: dict[str, Any], why: str
) -> None:
    account_id = await _create(api, IMAP)
    path = f"/v1/accounts/{account_id}"
    body = change if method == "PATCH" else merge(_without_secrets(IMAP), change)
    _named(await api.call(method, path, json=body), "mailbox.password", why)
    stored = await api.store.get_account(account_id)
    assert stored is not None and stored.mailbox is not None
    assert stored.mailbox.host == "imap.example.test", "nothing was changed"
    again = merge(body, {"mailbox": {"password": "new-pw"}})
    assert (await api.call(method, path, json=again)).status_code == 200


async def test_the_imap_password_is_kept_for_the_same_server(api: Api) -> None:
    account_id = await _create(api, IMAP)
    path = f"/v1/accounts/{account_id}"
    same = merge(_without_secrets(IMAP), {"mailbox": {"host": "IMAP.Example.TEST"}})
    assert (await api.put(path, json=same)).json()["mailbox"]["password_set"] is True
    for change in ({"name": "Renamed"}, {"mailbox": {"folder": "Support"}}, {"active": True}):
        patched = await api.patch(path, json=change)
        assert patched.status_code == 200, patched.text
        assert patched.json()["mailbox"]["password_set"] is True


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
@pytest.mark.parametrize(("change", "why"), OAUTH_MOVES)
async def test_the_client_secret_is_required_again_and_the_sign_in_dropped(
    api: Api, method: str, change: dict[str, Any], why: str
) -> None:
    account_id = await _create(api, GOOGLE)
    path = f"/v1/accounts/{account_id}"
    body = change if method == "PATCH" else merge(_without_secrets(GOOGLE), change)
    _named(await api.call(method, path, json=body), "oauth.client_secret", why)
    again = await api.call(method, path, json=merge(body, {"oauth": {"client_secret": "cs-2"}}))
    assert again.status_code == 200, again.text
    assert again.json()["oauth"]["client_secret_set"] is True
    assert again.json()["oauth"]["refresh_token_set"] is False, "the sign-in went along"


async def test_an_active_account_cannot_lose_its_sign_in_silently(api: Api) -> None:
    account_id = await _create(api, {**GOOGLE, "active": True})
    path = f"/v1/accounts/{account_id}"
    moved = {"mailbox": {"host": "imap.evil.example"}, "oauth": {"client_secret": "cs-2"}}
    _named(await api.patch(path, json=moved), "oauth.refresh_token", "mailbox.host")
    kept = await api.patch(path, json={"name": "Renamed", "oauth": {"redirect_uri": None}})
    assert kept.status_code == 200, kept.text
    assert kept.json()["oauth"]["refresh_token_set"] and kept.json()["oauth"]["client_secret_set"]
    assert kept.json()["active"] is True


SMTP_PASSWORD: dict[str, Any] = {
    "host": "smtp.example.test",
    "port": 587,
    "security": "starttls",
    "verify_tls": True,
    "auth": "password",
    "username": "mailer",
    "password": "smtp-pw",
}
SMTP_OAUTH: dict[str, Any] = {
    **{k: v for k, v in SMTP_PASSWORD.items() if k != "password"},
    "auth": "xoauth2",
    "oauth": {"client_id": "cid", "client_secret": "cs", "refresh_token": "rt"},
}
SERVER_MOVES = [
    ({"host": "smtp.evil.example"}, "host"),
    ({"port": 2525}, "port"),
    ({"security": "none", "verify_tls": False}, "security"),
    ({"verify_tls": False}, "verify_tls"),
    ({"username": "someone-else"}, "username"),
]


@pytest.mark.parametrize(("change", "why"), SERVER_MOVES)
async def test_the_smtp_password_is_required_again(
    api: Api, change: dict[str, Any], why: str
) -> None:
    assert (await api.put("/v1/smtp", json=SMTP_PASSWORD)).status_code == 200
    same = {k: v for k, v in SMTP_PASSWORD.items() if k != "password"}
    body = {**same, **change}
    _named(await api.put("/v1/smtp", json=body), "password", why)
    assert (await api.put("/v1/smtp", json=same)).json()["custom"]["password_set"] is True


@pytest.mark.parametrize(
    ("change", "why"),
    [
        *SERVER_MOVES,
        ({"oauth_provider": "google"}, "oauth_provider"),
        ({"oauth": {"client_id": "other"}}, "oauth.client_id"),
        ({"oauth": {"tenant": "other.example"}}, "oauth.tenant"),
        ({"oauth": {"token_url": "https://idp.evil.example/token"}}, "oauth.token_url"),
        ({"oauth": {"auth_url": "https://idp.evil.example/auth"}}, "oauth.auth_url"),
        ({"oauth": {"authority_url": "https://idp.evil.example/t"}}, "oauth.authority_url"),
    ],
)
async def test_the_smtp_client_secret_is_required_again(
    api: Api, change: dict[str, Any], why: str
) -> None:
    assert (await api.put("/v1/smtp", json=SMTP_OAUTH)).status_code == 200
    same = (await api.put("/v1/smtp", json=_without_secrets(SMTP_OAUTH))).json()["custom"]
    assert same["oauth"]["client_secret_set"] and same["oauth"]["refresh_token_set"]
    body = merge(_without_secrets(SMTP_OAUTH), change)
    _named(await api.put("/v1/smtp", json=body), "oauth.client_secret", why)
    again = await api.put("/v1/smtp", json=merge(body, {"oauth": {"client_secret": "cs-2"}}))
    assert again.status_code == 200, again.text
    oauth = again.json()["custom"]["oauth"]
    assert oauth["client_secret_set"] is True and oauth["refresh_token_set"] is False
