"""OAuth sign-in and token refresh against the local identity provider (tests/idp.py), through
msal and google-auth as in production; tokens are stored through both store adapters."""

import asyncio
from typing import cast
from urllib.parse import parse_qs, urlsplit

import pytest

from postroom_api.oauth.flow import complete_authorization, start_authorization
from postroom_shared.errors import TransientError
from postroom_shared.models import OAuthSettings, SmtpSettings
from postroom_shared.oauth import OAuthError, ReauthorizationRequired, TokenSource
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store
from tests.idp import IdentityProvider
from tests.oauth_helpers import (
    REDIRECT,
    SECRET,
    Browser,
    account_for,
    endpoints_for,
    oauth_for,
    sign_in,
)

BOX = SecretBox(SECRET)


async def _sign_in(
    idp: IdentityProvider, store: Store, account_id: str, provider: str, oauth: OAuthSettings
) -> str:
    """Runs the whole sign-in; returns the refresh token the store now holds (clear)."""
    await store.put_account(account_for(account_id, provider, oauth))
    owner = await sign_in(
        idp, store, BOX, provider, account_id, oauth, login_hint="alice@example.test"
    )
    assert owner == account_id
    stored = await store.get_account(account_id)
    assert stored is not None and stored.oauth is not None and stored.oauth.refresh_token_enc
    return BOX.decrypt(stored.oauth.refresh_token_enc)


async def _oauth(store: Store, account_id: str) -> OAuthSettings:
    account = await store.get_account(account_id)
    assert account is not None and account.oauth is not None
    return account.oauth


@pytest.mark.parametrize("secret", ["s3cret", None], ids=["confidential", "public"])
async def test_microsoft_sign_in_with_pkce_then_refresh_rotates_and_stores(
    idp: IdentityProvider, store: Store, secret: str | None
) -> None:
    client = idp.register_client(secret=secret, redirect_uris=(REDIRECT,))
    oauth = oauth_for(client)
    refresh = await _sign_in(idp, store, "acc_ms", "microsoft", oauth)
    assert idp.live_refresh_tokens(client.client_id) == [refresh]
    assert idp.grants(client.client_id)["authorization_code"] == 1

    tokens = TokenSource(store, BOX, endpoints_for(idp))
    stale = await _oauth(store, "acc_ms")
    token = await tokens.access_token("acc_ms", "microsoft", stale)
    assert idp.validate(token, "check") == (
        200,
        {"email": "alice@example.test", "active": "true", "scope": "mail"},
    )
    rotated = BOX.decrypt((await _oauth(store, "acc_ms")).refresh_token_enc or "")
    assert rotated != refresh
    assert idp.live_refresh_tokens(client.client_id) == [rotated]  # the old one is spent

    # cached: the same token, no new grant, even through the caller's older settings copy
    assert await tokens.access_token("acc_ms", "microsoft", stale) == token
    assert idp.grants(client.client_id)["refresh_token"] == 1
    tokens.close()


async def test_authorization_url_carries_pkce_state_and_offline_access(
    idp: IdentityProvider,
) -> None:
    client = idp.register_client(secret="x", redirect_uris=(REDIRECT,))
    start = await asyncio.to_thread(
        start_authorization,
        "microsoft",
        "acc_1",
        oauth_for(client),
        BOX,
        endpoints_for(idp),
        redirect_uri=REDIRECT,
    )
    params = {k: v[0] for k, v in parse_qs(urlsplit(start.url).query).items()}
    assert start.url.startswith(f"{idp.https_url}/postroom-test/oauth2/v2.0/authorize?")
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert params["state"] == start.state and "acc_1" not in start.state  # sealed
    assert "offline_access" in params["scope"].split()
    assert "https://outlook.office.com/IMAP.AccessAsUser.All" in params["scope"].split()

    google_client = idp.register_client(secret="g", redirect_uris=(REDIRECT,))
    google_start = start_authorization(
        "google", "acc_g", oauth_for(google_client), BOX, endpoints_for(idp), redirect_uri=REDIRECT
    )
    params = {k: v[0] for k, v in parse_qs(urlsplit(google_start.url).query).items()}
    assert params["scope"] == "https://mail.google.com/"
    assert params["access_type"] == "offline" and params["code_challenge_method"] == "S256"


async def test_google_sign_in_and_refresh_through_google_auth(
    idp: IdentityProvider, store: Store
) -> None:
    client = idp.register_client(secret="g-secret", redirect_uris=(REDIRECT,))
    refresh = await _sign_in(idp, store, "acc_g", "google", oauth_for(client))
    tokens = TokenSource(store, BOX, endpoints_for(idp))
    token = await tokens.access_token("acc_g", "google", await _oauth(store, "acc_g"))
    assert idp.validate(token, "check")[1]["active"] == "true"
    rotated = BOX.decrypt((await _oauth(store, "acc_g")).refresh_token_enc or "")
    assert rotated != refresh and idp.live_refresh_tokens(client.client_id) == [rotated]


async def test_declined_consent_is_a_clear_error(
    idp: IdentityProvider, sqlite_store: Store
) -> None:
    client = idp.register_client(
        secret="x", redirect_uris=(REDIRECT,), default_user="carol@example.test"
    )
    idp.deny("carol@example.test")
    oauth = oauth_for(client)
    await sqlite_store.put_account(account_for("acc_d", "microsoft", oauth))
    start = await asyncio.to_thread(
        start_authorization,
        "microsoft",
        "acc_d",
        oauth,
        BOX,
        endpoints_for(idp),
        redirect_uri=REDIRECT,
    )
    browser = Browser(idp)
    query = browser.begin(start)
    assert query["error"] == "access_denied"
    with pytest.raises(OAuthError, match=r"declined.*ask the mailbox owner"):
        await complete_authorization(
            start.state,
            query,
            cookies=browser.cookies,
            store=sqlite_store,
            secrets=BOX,
            endpoints=endpoints_for(idp),
        )
    assert (await _oauth(sqlite_store, "acc_d")).refresh_token_enc is None


async def test_bad_states_and_reused_codes_are_refused(
    idp: IdentityProvider, sqlite_store: Store
) -> None:
    client = idp.register_client(secret="x", redirect_uris=(REDIRECT,))
    oauth = oauth_for(client)
    await sqlite_store.put_account(account_for("acc_s", "microsoft", oauth))
    endpoints = endpoints_for(idp)
    browser = Browser(idp)

    async def finish(state: str, query: dict[str, str]) -> str:
        return await complete_authorization(
            state,
            query,
            cookies=browser.cookies,
            store=sqlite_store,
            secrets=BOX,
            endpoints=endpoints,
        )

    with pytest.raises(OAuthError, match="not issued by this Postroom"):
        await finish("forged", {"code": "c"})
    other = SecretBox("x" * 40).encrypt("{}")
    with pytest.raises(OAuthError, match="not issued by this Postroom"):
        await finish(other, {"code": "c"})

    start = await asyncio.to_thread(
        start_authorization, "microsoft", "acc_s", oauth, BOX, endpoints, redirect_uri=REDIRECT
    )
    query = browser.begin(start)
    assert await finish(start.state, query) == "acc_s"
    with pytest.raises(OAuthError, match="already completed"):  # single-use
        await finish(start.state, query)
    with pytest.raises(OAuthError, match="does not match"):
        await finish(start.state, {**query, "state": "x"})

    await sqlite_store.delete_account("acc_s")
    start = await asyncio.to_thread(
        start_authorization, "microsoft", "acc_s", oauth, BOX, endpoints, redirect_uri=REDIRECT
    )
    with pytest.raises(OAuthError, match="no longer exists"):
        await finish(start.state, browser.begin(start))


async def test_revoked_consent_needs_reauthorisation(idp: IdentityProvider, store: Store) -> None:
    client = idp.register_client(secret="x", redirect_uris=(REDIRECT,))
    await _sign_in(idp, store, "acc_r", "microsoft", oauth_for(client))
    tokens = TokenSource(store, BOX, endpoints_for(idp))
    token = await tokens.access_token("acc_r", "microsoft", await _oauth(store, "acc_r"))
    idp.revoke_user("alice@example.test", client.client_id)
    assert idp.validate(token, "check")[1]["active"] == "false"
    tokens.forget("acc_r")  # the server rejected the token: ask again
    with pytest.raises(ReauthorizationRequired, match="Re-authorise") as caught:
        await tokens.access_token("acc_r", "microsoft", await _oauth(store, "acc_r"))
    assert "acc_r" in str(caught.value) and "invalid_grant" in str(caught.value)
    tokens.close()


async def test_google_revoked_refresh_token_needs_reauthorisation(
    idp: IdentityProvider, sqlite_store: Store
) -> None:
    client = idp.register_client(secret="g", redirect_uris=(REDIRECT,))
    refresh = await _sign_in(idp, sqlite_store, "acc_gr", "google", oauth_for(client))
    idp.revoke_refresh_token(refresh)
    tokens = TokenSource(sqlite_store, BOX, endpoints_for(idp))
    with pytest.raises(ReauthorizationRequired, match="Google no longer accepts"):
        await tokens.access_token("acc_gr", "google", await _oauth(sqlite_store, "acc_gr"))


async def test_short_lived_tokens_refresh_every_time_and_each_rotation_is_stored(
    idp: IdentityProvider, sqlite_store: Store
) -> None:
    client = idp.register_client(secret="x", redirect_uris=(REDIRECT,), token_lifetime_s=60)
    await _sign_in(idp, sqlite_store, "acc_t", "microsoft", oauth_for(client))
    first = await _oauth(sqlite_store, "acc_t")  # a fetcher's snapshot, never re-read
    tokens = TokenSource(sqlite_store, BOX, endpoints_for(idp))
    seen = set()
    for _ in range(3):  # 60 s lifetime < 5 min margin: every call refreshes
        seen.add(await tokens.access_token("acc_t", "microsoft", first))
        stored = BOX.decrypt((await _oauth(sqlite_store, "acc_t")).refresh_token_enc or "")
        assert idp.live_refresh_tokens(client.client_id) == [stored]
    assert len(seen) == 3 and idp.grants(client.client_id)["refresh_token"] == 3
    tokens.close()


async def test_rotation_by_another_process_is_picked_up_from_the_store(
    idp: IdentityProvider, sqlite_store: Store
) -> None:
    client = idp.register_client(secret="x", redirect_uris=(REDIRECT,), token_lifetime_s=60)
    await _sign_in(idp, sqlite_store, "acc_p", "microsoft", oauth_for(client))
    snapshot = await _oauth(sqlite_store, "acc_p")
    api, fetcher = (TokenSource(sqlite_store, BOX, endpoints_for(idp)) for _ in range(2))
    await api.access_token("acc_p", "microsoft", snapshot)  # rotates
    await fetcher.access_token("acc_p", "microsoft", snapshot)  # stale copy: still fine
    assert idp.grants(client.client_id)["refresh_token"] == 2
    api.close()
    fetcher.close()


async def test_concurrent_callers_share_one_refresh(
    idp: IdentityProvider, sqlite_store: Store
) -> None:
    client = idp.register_client(secret="x", redirect_uris=(REDIRECT,))
    await _sign_in(idp, sqlite_store, "acc_c", "microsoft", oauth_for(client))
    oauth = await _oauth(sqlite_store, "acc_c")
    tokens = TokenSource(sqlite_store, BOX, endpoints_for(idp))
    got = await asyncio.gather(
        *(tokens.access_token("acc_c", "microsoft", oauth) for _ in range(5))
    )
    assert len(set(got)) == 1 and idp.grants(client.client_id)["refresh_token"] == 1
    tokens.close()


async def test_client_credentials_for_microsoft_app_only(
    idp: IdentityProvider, sqlite_store: Store
) -> None:
    client = idp.register_client(secret="app", app_mailbox="bob@example.test")
    oauth = oauth_for(client, flow="client_credentials")
    await sqlite_store.put_smtp_settings(
        SmtpSettings(host="127.0.0.1", port=25, auth="xoauth2", username="bob", oauth=oauth)
    )
    tokens = TokenSource(sqlite_store, BOX, endpoints_for(idp))
    token = await tokens.access_token("smtp", "microsoft", oauth)
    assert idp.validate(token, "check")[1] == {
        "email": "bob@example.test",
        "active": "true",
        "scope": "mail",
    }
    assert await tokens.access_token("smtp", "microsoft", oauth) == token
    assert idp.grants(client.client_id) == {"client_credentials": 1}
    with pytest.raises(OAuthError, match="Microsoft only"):
        await tokens.access_token("smtp", "google", oauth)
    with pytest.raises(OAuthError, match="no sign-in"):
        start_authorization(
            "microsoft", "smtp", oauth, BOX, endpoints_for(idp), redirect_uri=REDIRECT
        )
    tokens.close()


async def test_wrong_client_secret_is_a_configuration_error(
    idp: IdentityProvider, sqlite_store: Store
) -> None:
    client = idp.register_client(secret="right", app_mailbox="bob@example.test")
    oauth = oauth_for(client, flow="client_credentials").model_copy(
        update={"client_secret_enc": BOX.encrypt("wrong")}
    )
    tokens = TokenSource(sqlite_store, BOX, endpoints_for(idp))
    with pytest.raises(OAuthError, match="client secret may have expired"):
        await tokens.access_token("smtp", "microsoft", oauth)
    tokens.close()


async def test_provider_outage_is_transient_and_recovers(
    idp: IdentityProvider, sqlite_store: Store
) -> None:
    client = idp.register_client(secret="x", redirect_uris=(REDIRECT,))
    await _sign_in(idp, sqlite_store, "acc_o", "microsoft", oauth_for(client))
    oauth = await _oauth(sqlite_store, "acc_o")
    tokens = TokenSource(sqlite_store, BOX, endpoints_for(idp))
    idp.fail_token_requests(client.client_id, 503)
    with pytest.raises(TransientError):
        await tokens.access_token("acc_o", "microsoft", oauth)
    tokens.forget("acc_o")  # msal throttles the same request for a few seconds after a 5xx
    assert await tokens.access_token("acc_o", "microsoft", oauth)
    tokens.close()


async def test_unreachable_provider_is_transient(
    sqlite_store: Store, idp: IdentityProvider
) -> None:
    client = idp.register_client(secret="x")
    endpoints = endpoints_for(idp).model_copy(
        update={"microsoft_authority": "https://127.0.0.1:9", "timeout_s": 2}
    )
    tokens = TokenSource(sqlite_store, BOX, endpoints)
    with pytest.raises(TransientError, match="unreachable"):
        await tokens.access_token("smtp", "microsoft", oauth_for(client, flow="client_credentials"))


async def test_configured_ca_bundle_wins_over_requests_ca_bundle(
    idp: IdentityProvider, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    client = idp.register_client(secret="app", app_mailbox="bob@example.test")
    oauth = oauth_for(client, flow="client_credentials")
    tokens = TokenSource(sqlite_store, BOX, endpoints_for(idp))
    assert await tokens.access_token("smtp", "microsoft", oauth)
    # and without it the IdP's private CA is not trusted
    untrusting = TokenSource(
        sqlite_store, BOX, endpoints_for(idp).model_copy(update={"ca_bundle": None})
    )
    with pytest.raises(TransientError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify"):
        await untrusting.access_token("smtp", "microsoft", oauth)


async def test_no_refresh_token_yet_asks_for_sign_in(
    idp: IdentityProvider, sqlite_store: Store
) -> None:
    client = idp.register_client(secret="x")
    oauth = oauth_for(client)
    await sqlite_store.put_account(account_for("acc_n", "microsoft", oauth))
    tokens = TokenSource(sqlite_store, BOX, endpoints_for(idp))
    with pytest.raises(ReauthorizationRequired, match="no OAuth refresh token yet"):
        await tokens.access_token("acc_n", "microsoft", oauth)


async def test_google_outage_is_transient(idp: IdentityProvider, sqlite_store: Store) -> None:
    client = idp.register_client(secret="g", redirect_uris=(REDIRECT,))
    await _sign_in(idp, sqlite_store, "acc_go", "google", oauth_for(client))
    oauth = await _oauth(sqlite_store, "acc_go")
    tokens = TokenSource(sqlite_store, BOX, endpoints_for(idp))
    idp.fail_token_requests(client.client_id, 503, 503, 503)  # google-auth tries 3 times
    with pytest.raises(TransientError):
        await tokens.access_token("acc_go", "google", oauth)
    assert await tokens.access_token("acc_go", "google", oauth)


class _StoreWriteFailsOnce:
    """A real store whose next set_refresh_token raises (the store is briefly down)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.failed = False

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def set_refresh_token(self, owner: str, refresh_token_enc: str) -> bool:
        if not self.failed:
            self.failed = True
            raise ConnectionError("store unavailable")
        return await self._store.set_refresh_token(owner, refresh_token_enc)


async def test_rotated_token_survives_a_failed_store_write(
    idp: IdentityProvider, sqlite_store: Store
) -> None:
    client = idp.register_client(secret="x", redirect_uris=(REDIRECT,), token_lifetime_s=60)
    await _sign_in(idp, sqlite_store, "acc_w", "microsoft", oauth_for(client))
    oauth = await _oauth(sqlite_store, "acc_w")
    flaky = _StoreWriteFailsOnce(sqlite_store)
    tokens = TokenSource(cast(Store, flaky), BOX, endpoints_for(idp))
    assert await tokens.access_token("acc_w", "microsoft", oauth)
    assert flaky.failed
    # the store still holds the spent token; the in-memory one is used and then stored
    assert await tokens.access_token("acc_w", "microsoft", oauth)
    stored = BOX.decrypt((await _oauth(sqlite_store, "acc_w")).refresh_token_enc or "")
    assert idp.live_refresh_tokens(client.client_id) == [stored]
    tokens.close()


async def test_outage_during_the_code_exchange_is_transient(
    idp: IdentityProvider, sqlite_store: Store
) -> None:
    client = idp.register_client(secret="x", redirect_uris=(REDIRECT,))
    oauth = oauth_for(client)
    await sqlite_store.put_account(account_for("acc_x", "microsoft", oauth))
    endpoints = endpoints_for(idp)
    start = await asyncio.to_thread(
        start_authorization, "microsoft", "acc_x", oauth, BOX, endpoints, redirect_uri=REDIRECT
    )
    browser = Browser(idp)
    query = browser.begin(start)
    idp.fail_token_requests(client.client_id, 502)
    with pytest.raises(TransientError, match="try the sign-in again"):
        await complete_authorization(
            start.state,
            query,
            cookies=browser.cookies,
            store=sqlite_store,
            secrets=BOX,
            endpoints=endpoints,
        )
    assert (await _oauth(sqlite_store, "acc_x")).refresh_token_enc is None
