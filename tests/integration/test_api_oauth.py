"""OAuth 2.0 sign-in through the API (SPEC F2): start returns the provider's URL, the browser
signs in at the local identity provider (tests/idp.py, msal and google-auth as in production),
the callback stores the refresh token on the account or the SMTP settings."""

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.idp import IdentityProvider
from tests.integration.api_harness import Api, running_api
from tests.oauth_helpers import REDIRECT, TENANT, browser_sign_in
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack


@pytest.fixture
async def api(stack: StackEnv, store_url: str, idp: IdentityProvider) -> AsyncIterator[Api]:
    settings = {
        "oauth_microsoft_authority": idp.https_url,
        "oauth_google_auth_url": idp.google_auth_url,
        "oauth_google_token_url": idp.google_token_url,
        "oauth_ca_bundle": str(idp.ca_file),
        "oauth_timeout_s": 10,
    }
    async with running_api(stack, store_url, **settings) as running:
        yield running


def oauth_account(
    provider: str, client_id: str, secret: str | None, **oauth: Any
) -> dict[str, Any]:
    return {
        "name": f"{provider} desk",
        "address": "alice@example.test",
        "project": "Desk",
        "provider": provider,
        "mailbox": {
            "host": "127.0.0.1",
            "port": 143,
            "security": "none",
            "username": "alice@example.test",
        },
        "oauth": {
            "client_id": client_id,
            "client_secret": secret,
            "tenant": TENANT,
            "redirect_uri": REDIRECT,
            **oauth,
        },
    }


async def _callback(api: Api, query: dict[str, str]) -> Any:
    # the browser arrives without an API key
    return await api.client.get("/oauth/callback", params=query)


@pytest.mark.parametrize("provider", ["microsoft", "google"])
async def test_sign_in_stores_the_refresh_token(
    api: Api, idp: IdentityProvider, provider: str
) -> None:
    client = idp.register_client(secret="cs-" + provider)
    created = await api.post(
        "/v1/accounts", json=oauth_account(provider, client.client_id, client.secret)
    )
    assert created.status_code == 201, created.text
    account_id = created.json()["id"]
    assert (await api.post(f"/v1/accounts/{account_id}/activate")).status_code == 409
    start = await api.post(f"/v1/accounts/{account_id}/oauth/start", json={})
    assert start.status_code == 200, start.text
    assert start.json()["redirect_uri"] == REDIRECT
    query = browser_sign_in(start.json()["authorization_url"], idp)
    done = await _callback(api, query)
    assert done.status_code == 200, done.text
    assert done.json()["owner"] == account_id
    view = (await api.get(f"/v1/accounts/{account_id}")).json()
    assert view["oauth"]["refresh_token_set"] is True
    assert "refresh" not in str(view["oauth"]).replace("refresh_token_set", "")
    assert (await api.post(f"/v1/accounts/{account_id}/activate")).json()["active"] is True
    # the state is single-use: the code was redeemed
    again = await _callback(api, query)
    assert again.status_code == 400 and "start the sign-in again" in again.json()["detail"]


async def test_declined_consent_and_forged_state_are_clear_400s(
    api: Api, idp: IdentityProvider
) -> None:
    client = idp.register_client(secret="cs")
    body = oauth_account("microsoft", client.client_id, client.secret)
    body["address"] = user = f"declines-{secrets.token_hex(4)}@example.test"  # idp is shared
    account_id = (await api.post("/v1/accounts", json=body)).json()["id"]
    idp.deny(user)
    start = await api.post(f"/v1/accounts/{account_id}/oauth/start")
    query = browser_sign_in(start.json()["authorization_url"], idp)
    declined = await _callback(api, query)
    assert declined.status_code == 400
    assert "declined" in declined.json()["detail"]
    forged = await _callback(api, {"state": "x" * 40, "code": "c"})
    assert forged.status_code == 400
    assert (await api.client.get("/oauth/callback")).status_code == 422


async def test_default_redirect_uri_and_who_can_start(api: Api, idp: IdentityProvider) -> None:
    client = idp.register_client(secret="cs")
    body = oauth_account("google", client.client_id, client.secret, redirect_uri=None)
    account_id = (await api.post("/v1/accounts", json=body)).json()["id"]
    start = await api.post(
        f"/v1/accounts/{account_id}/oauth/start", json={"login_hint": "alice@example.test"}
    )
    assert start.json()["redirect_uri"] == "http://api/oauth/callback"
    assert "login_hint=alice%40example.test" in start.json()["authorization_url"]
    imap = {
        "name": "plain",
        "address": "p@x.test",
        "project": "P",
        "mailbox": {"host": "h", "username": "u"},
    }
    plain_id = (await api.post("/v1/accounts", json=imap)).json()["id"]
    assert (await api.post(f"/v1/accounts/{plain_id}/oauth/start")).status_code == 409
    assert (await api.post("/v1/accounts/acc_none/oauth/start")).status_code == 404
    assert (await api.client.post(f"/v1/accounts/{account_id}/oauth/start")).status_code == 401
    app_only = oauth_account("microsoft", client.client_id, "cs", flow="client_credentials")
    app_only["name"] = "app only"
    app_id = (await api.post("/v1/accounts", json=app_only)).json()["id"]
    refused = await api.post(f"/v1/accounts/{app_id}/oauth/start")
    assert refused.status_code == 409 and "client credentials" in refused.json()["detail"]


async def test_smtp_server_sign_in(api: Api, idp: IdentityProvider) -> None:
    client = idp.register_client(secret="cs")
    assert (
        await api.post("/v1/smtp/oauth/start", json={"provider": "microsoft"})
    ).status_code == 409
    smtp = {
        "host": "smtp.example.test",
        "auth": "xoauth2",
        "username": "alice@example.test",
        "oauth": {
            "client_id": client.client_id,
            "client_secret": "cs",
            "tenant": TENANT,
            "redirect_uri": REDIRECT,
        },
    }
    assert (await api.put("/v1/smtp", json=smtp)).status_code == 200
    start = await api.post("/v1/smtp/oauth/start", json={"provider": "microsoft"})
    assert start.status_code == 200, start.text
    done = await _callback(api, browser_sign_in(start.json()["authorization_url"], idp))
    assert done.status_code == 200 and done.json()["owner"] == "smtp"
    view = (await api.get("/v1/smtp")).json()
    assert view["custom"]["oauth"]["refresh_token_set"] is True
