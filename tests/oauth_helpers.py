"""Shared pieces of the OAuth tests: accounts bound to the test IdP, and the browser leg of the
sign-in (follow /authorize to the redirect and hand its query to the callback)."""

import asyncio
from urllib.parse import parse_qsl, urlsplit

import requests

from postroom_shared.models import EmailAccount, MailboxSettings, OAuthSettings, Security
from postroom_shared.oauth import OAuthEndpoints, complete_authorization, start_authorization
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store
from tests.idp import Client, IdentityProvider

SECRET = "o" * 40
REDIRECT = "https://postroom.example.test/api/oauth/callback"
TENANT = "postroom-test"


def endpoints_for(idp: IdentityProvider) -> OAuthEndpoints:
    return OAuthEndpoints(
        microsoft_authority=idp.https_url,
        google_auth_url=idp.google_auth_url,
        google_token_url=idp.google_token_url,
        ca_bundle=str(idp.ca_file),
        timeout_s=10,
    )


def oauth_for(client: Client, *, flow: str = "authorization_code") -> OAuthSettings:
    box = SecretBox(SECRET)
    return OAuthSettings.model_validate(
        {
            "flow": flow,
            "client_id": client.client_id,
            "client_secret_enc": box.encrypt(client.secret) if client.secret else None,
            "tenant": TENANT,
        }
    )


def account_for(
    account_id: str,
    provider: str,
    oauth: OAuthSettings,
    *,
    user: str = "alice@example.test",
    imap_port: int = 143,
) -> EmailAccount:
    return EmailAccount.model_validate(
        {
            "id": account_id,
            "name": f"OAuth {account_id}",
            "address": user,
            "provider": provider,
            "project": "Support",
            "mailbox": MailboxSettings(
                host="127.0.0.1", port=imap_port, security=Security.NONE, username=user
            ),
            "oauth": oauth,
        }
    )


def browser_sign_in(url: str, idp: IdentityProvider) -> dict[str, str]:
    """What the user's browser brings back to the redirect URI: its query parameters."""
    with requests.Session() as browser:
        browser.trust_env = False
        resp = browser.get(url, allow_redirects=False, verify=str(idp.ca_file), timeout=10)
    assert resp.status_code == 302, resp.text
    location = resp.headers["Location"]
    assert location.startswith(REDIRECT), location
    return dict(parse_qsl(urlsplit(location).query))


async def sign_in(
    idp: IdentityProvider,
    store: Store,
    box: SecretBox,
    provider: str,
    owner: str,
    oauth: OAuthSettings,
    *,
    login_hint: str,
) -> str:
    """The whole sign-in of `owner` (an account id or "smtp") as the API and a browser run it:
    start, the IdP's redirect, the callback storing the refresh token. Returns the owner the
    callback named."""
    endpoints = endpoints_for(idp)
    start = await asyncio.to_thread(
        start_authorization,
        provider,
        owner,
        oauth,
        box,
        endpoints,
        redirect_uri=REDIRECT,
        login_hint=login_hint,
    )
    query = browser_sign_in(start.url, idp)
    return await complete_authorization(
        start.state, query, store=store, secrets=box, endpoints=endpoints
    )
