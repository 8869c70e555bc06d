"""OAuth 2.0 sign-in through the API: start returns a sign-in link, the browser that opens it
gets the binding cookie and signs in at the local identity provider (tests/idp.py, msal and
google-auth as in production), the callback stores the refresh token on the account or the SMTP
settings, once, and only for that browser."""

import secrets
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from postroom_api.oauth.state import SignInLink, seal_link
from tests.idp import IdentityProvider
from tests.integration.api_harness import Api, running_api
from tests.oauth_helpers import REDIRECT, TENANT, open_sign_in_link, provider_redirect
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
            **oauth,
        },
    }


async def _callback(api: Api, query: dict[str, str]) -> Any:
    # the browser arrives without an API key, with the cookies the sign-in link set
    return await api.client.get("/oauth/callback", params=query)


async def _sign_in_link(api: Api, idp: IdentityProvider, start: Any) -> dict[str, str]:
    return await open_sign_in_link(api.client, start.json()["authorization_url"], idp)


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
    assert start.json()["redirect_uri"] == "http://api/oauth/callback"
    assert start.json()["authorization_url"].startswith("http://api/oauth/begin?ticket=")
    query = await _sign_in_link(api, idp, start)
    done = await _callback(api, query)
    assert done.status_code == 200, done.text
    assert done.json()["owner"] == account_id
    view = (await api.get(f"/v1/accounts/{account_id}")).json()
    assert view["oauth"]["refresh_token_set"] is True
    assert "refresh" not in str(view["oauth"]).replace("refresh_token_set", "")
    assert (await api.post(f"/v1/accounts/{account_id}/activate")).json()["active"] is True
    # the state is single-use
    again = await _callback(api, query)
    assert again.status_code == 400 and "already completed" in again.json()["detail"]


async def test_declined_consent_and_forged_state_are_clear_400s(
    api: Api, idp: IdentityProvider
) -> None:
    client = idp.register_client(secret="cs")
    body = oauth_account("microsoft", client.client_id, client.secret)
    body["address"] = user = f"declines-{secrets.token_hex(4)}@example.test"  # idp is shared
    account_id = (await api.post("/v1/accounts", json=body)).json()["id"]
    idp.deny(user)
    start = await api.post(f"/v1/accounts/{account_id}/oauth/start")
    query = await _sign_in_link(api, idp, start)
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
    link = urlsplit(start.json()["authorization_url"])
    provider_url = (await api.client.get(f"{link.path}?{link.query}")).headers["location"]
    assert "login_hint=alice%40example.test" in provider_url
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
        },
    }
    assert (await api.put("/v1/smtp", json=smtp)).status_code == 200
    start = await api.post("/v1/smtp/oauth/start", json={"provider": "microsoft"})
    assert start.status_code == 200, start.text
    done = await _callback(api, await _sign_in_link(api, idp, start))
    assert done.status_code == 200 and done.json()["owner"] == "smtp"
    view = (await api.get("/v1/smtp")).json()
    assert view["custom"]["oauth"]["refresh_token_set"] is True


def _other_browser(api: Api) -> httpx.AsyncClient:
    """Another browser: same API, an empty cookie jar."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=api.app), base_url="http://api")


async def test_the_callback_needs_the_browser_that_opened_the_link(
    api: Api, idp: IdentityProvider
) -> None:
    client = idp.register_client(secret="cs")
    body = oauth_account("google", client.client_id, client.secret)
    account_id = (await api.post("/v1/accounts", json=body)).json()["id"]
    path = f"/v1/accounts/{account_id}/oauth/start"
    link = urlsplit((await api.post(path)).json()["authorization_url"])
    begin = await api.client.get(f"{link.path}?{link.query}")  # the admin's browser
    assert begin.status_code == 302, begin.text
    provider_url = begin.headers["location"]
    # whoever sees the provider URL (history, logs, a screen) signs in with it elsewhere
    stolen = provider_redirect(provider_url, idp)
    async with _other_browser(api) as elsewhere:
        refused = await elsewhere.get("/oauth/callback", params=stolen)
    assert refused.status_code == 400, refused.text
    assert "another browser" in refused.json()["detail"]
    # nor does the cookie of another sign-in fit
    async with _other_browser(api) as other:
        await open_sign_in_link(other, (await api.post(path)).json()["authorization_url"], idp)
        mixed = await other.get("/oauth/callback", params=stolen)
    assert mixed.status_code == 400 and "another browser" in mixed.json()["detail"]
    view = (await api.get(f"/v1/accounts/{account_id}")).json()
    assert view["oauth"]["refresh_token_set"] is False
    # the browser that opened the link finishes: the refusals did not use the state up
    query = provider_redirect(provider_url, idp)
    done = await _callback(api, query)
    assert done.status_code == 200, done.text
    assert (await api.get(f"/v1/accounts/{account_id}")).json()["oauth"]["refresh_token_set"]
    replay = await _callback(api, query)
    assert replay.status_code == 400 and "already completed" in replay.json()["detail"]


async def test_a_declined_sign_in_uses_its_state_up(api: Api, idp: IdentityProvider) -> None:
    client = idp.register_client(secret="cs")
    body = oauth_account("microsoft", client.client_id, client.secret)
    body["address"] = user = f"declines-{secrets.token_hex(4)}@example.test"
    account_id = (await api.post("/v1/accounts", json=body)).json()["id"]
    idp.deny(user)
    query = await _sign_in_link(api, idp, await api.post(f"/v1/accounts/{account_id}/oauth/start"))
    assert "declined" in (await _callback(api, query)).json()["detail"]
    again = await _callback(api, {**query, "error": "", "code": "guessed"})
    assert again.status_code == 400 and "already completed" in again.json()["detail"]


async def test_the_sign_in_link_sets_a_strict_cookie_next_to_the_callback(
    api: Api, idp: IdentityProvider
) -> None:
    client = idp.register_client(secret="cs")
    body = oauth_account("google", client.client_id, client.secret, redirect_uri=REDIRECT)
    account_id = (await api.post("/v1/accounts", json=body)).json()["id"]
    start = (await api.post(f"/v1/accounts/{account_id}/oauth/start")).json()
    assert start["redirect_uri"] == REDIRECT  # behind a proxy, under /api
    link = urlsplit(start["authorization_url"])
    assert (link.scheme, link.netloc, link.path) == (
        "https",
        "postroom.example.test",
        "/api/oauth/begin",
    )
    # the proxy strips /api: the API serves the link at /oauth/begin
    begin = await api.client.get("/oauth/begin", params=dict(parse_qsl(link.query)))
    assert begin.status_code == 302, begin.text
    assert begin.headers["location"].startswith(idp.google_auth_url)
    cookie = begin.headers["set-cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "secure", "samesite", "path", "max-age"} <= attributes, cookie
    assert "SameSite=lax" in cookie and "Path=/api/oauth" in cookie, cookie
    max_age = int(cookie.split("Max-Age=")[1].split(";")[0])
    assert 0 < max_age <= 15 * 60
    assert begin.headers["cache-control"] == "no-store"

    expired = SignInLink(
        provider_url="https://idp.example/",
        state_id="st_0123456789abcdef",
        binding_secret="b",
        expires_at=time.time() - 1,
    )
    for ticket, words in (
        (seal_link(expired, api.secrets), "older than 15 minutes"),
        ("v1:forged", "not issued by this Postroom"),
    ):
        refused = await api.client.get("/oauth/begin", params={"ticket": ticket})
        assert refused.status_code == 400 and words in refused.json()["detail"]
