"""Shared pieces of the OAuth tests: accounts bound to the test IdP, and the browser's part of
the sign-in, as a browser does it: it keeps the cookie that binds the sign-in to it, follows
/authorize to the redirect, and brings the redirect's query and its cookies to the callback."""

import asyncio
from urllib.parse import parse_qsl, urlsplit

import httpx
import requests

from postroom_api.oauth.flow import AuthStart, complete_authorization, start_authorization
from postroom_shared.models import EmailAccount, MailboxSettings, OAuthSettings, Security
from postroom_shared.oauth import OAuthEndpoints
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


def provider_redirect(url: str, idp: IdentityProvider) -> dict[str, str]:
    """The provider's leg: sign in at `url`; the query the provider redirects back with."""
    with requests.Session() as browser:
        browser.trust_env = False
        resp = browser.get(url, allow_redirects=False, verify=str(idp.ca_file), timeout=10)
    assert resp.status_code == 302, resp.text
    return dict(parse_qsl(urlsplit(resp.headers["Location"]).query))


def browser_sign_in(url: str, idp: IdentityProvider) -> dict[str, str]:
    """What the user's browser brings back to the redirect URI: its query parameters."""
    with requests.Session() as browser:
        browser.trust_env = False
        resp = browser.get(url, allow_redirects=False, verify=str(idp.ca_file), timeout=10)
    assert resp.status_code == 302, resp.text
    location = resp.headers["Location"]
    assert location.startswith(REDIRECT), location
    return dict(parse_qsl(urlsplit(location).query))


class Browser:
    """A browser's cookie jar over the library-level sign-in: `begin` does what Postroom's
    sign-in link does in a browser (keep the binding cookie, go to the provider)."""

    def __init__(self, idp: IdentityProvider) -> None:
        self.idp = idp
        self.cookies: dict[str, str] = {}

    def begin(self, start: AuthStart) -> dict[str, str]:
        self.cookies[start.cookie] = start.binding
        return browser_sign_in(start.url, self.idp)


async def open_sign_in_link(
    client: httpx.AsyncClient, link: str, idp: IdentityProvider
) -> dict[str, str]:
    """The browser's part of a sign-in the API started: open the API's sign-in link with
    `client` (its cookie jar keeps the binding cookie), sign in at the provider it redirects
    to; returns the query the provider sends the browser back to the callback with."""
    parts = urlsplit(link)
    begin = await client.get(f"{parts.path}?{parts.query}")
    assert begin.status_code == 302, begin.text
    return provider_redirect(begin.headers["location"], idp)


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
    browser = Browser(idp)
    query = browser.begin(start)
    return await complete_authorization(
        start.state, query, cookies=browser.cookies, store=store, secrets=box, endpoints=endpoints
    )
