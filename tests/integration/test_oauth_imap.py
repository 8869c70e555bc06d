"""XOAUTH2/OAUTHBEARER logins to the real Dovecot with tokens from the real flows: Dovecot
validates each token against the test IdP's tokeninfo/introspection endpoints."""

import asyncio
from typing import Literal

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from postroom_fetcher import probe
from postroom_fetcher.domain.errors import MailboxError
from postroom_shared.models import OAuthSettings, SmtpSettings
from postroom_shared.oauth import (
    ReauthorizationRequired,
    TokenSource,
)
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store, open_store
from tests.idp import IdentityProvider
from tests.oauth_helpers import (
    REDIRECT,
    SECRET,
    account_for,
    endpoints_for,
    oauth_for,
    sign_in,
)
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
BOX = SecretBox(SECRET)


def _imap(stack: StackEnv) -> IMAPClient:
    return IMAPClient("127.0.0.1", port=stack.imap_port, ssl=False, timeout=10)


def _xoauth2(stack: StackEnv, user: str, token: str) -> list[str]:
    with _imap(stack) as client:
        client.oauth2_login(user, token)
        return [name for _, _, name in client.list_folders()]


def _oauthbearer(stack: StackEnv, user: str, token: str) -> None:
    with _imap(stack) as client:
        client.oauthbearer_login(user, token)
        client.select_folder("INBOX")


async def _signed_in(
    idp: IdentityProvider,
    store: Store,
    stack: StackEnv,
    account_id: str,
    user: str,
    provider: Literal["microsoft", "google"] = "microsoft",
) -> OAuthSettings:
    client = idp.register_client(secret="s", redirect_uris=(REDIRECT,))
    oauth = oauth_for(client)
    await store.put_account(
        account_for(account_id, provider, oauth, user=user, imap_port=stack.imap_port)
    )
    await sign_in(idp, store, BOX, provider, account_id, oauth, login_hint=user)
    account = await store.get_account(account_id)
    assert account is not None and account.oauth is not None
    return account.oauth


@pytest.mark.parametrize("provider", ["microsoft", "google"])
async def test_signed_in_account_logs_in_over_xoauth2_and_oauthbearer(
    stack: StackEnv, idp: IdentityProvider, store: Store, provider: Literal["microsoft", "google"]
) -> None:
    oauth = await _signed_in(idp, store, stack, "acc_imap", "alice@example.test", provider)
    tokens = TokenSource(store, BOX, endpoints_for(idp))
    token = await tokens.access_token("acc_imap", provider, oauth)
    checks = idp.validations["tokeninfo"]
    assert "INBOX" in await asyncio.to_thread(_xoauth2, stack, "alice@example.test", token)
    await asyncio.to_thread(_oauthbearer, stack, "alice@example.test", token)
    assert idp.validations["tokeninfo"] >= checks + 2  # Dovecot really asked the IdP
    # another mailbox's name with alice's token: Dovecot compares the token's email
    with pytest.raises(LoginError):
        await asyncio.to_thread(_xoauth2, stack, "bob@example.test", token)
    tokens.close()


async def test_revoked_consent_rejects_login_and_refresh(
    stack: StackEnv, idp: IdentityProvider, store: Store
) -> None:
    oauth = await _signed_in(idp, store, stack, "acc_rev", "bob@example.test")
    tokens = TokenSource(store, BOX, endpoints_for(idp))
    token = await tokens.access_token("acc_rev", "microsoft", oauth)
    await asyncio.to_thread(_xoauth2, stack, "bob@example.test", token)

    idp.revoke_user("bob@example.test", oauth.client_id)
    with pytest.raises(LoginError):
        await asyncio.to_thread(_xoauth2, stack, "bob@example.test", token)
    tokens.forget("acc_rev")
    with pytest.raises(ReauthorizationRequired, match="acc_rev"):
        await tokens.access_token("acc_rev", "microsoft", oauth)
    tokens.close()


async def test_expired_token_is_rejected_and_a_refreshed_one_works(
    stack: StackEnv, idp: IdentityProvider, store: Store
) -> None:
    oauth = await _signed_in(idp, store, stack, "acc_exp", "alice@example.test")
    idp.set_token_lifetime(oauth.client_id, 1)
    tokens = TokenSource(store, BOX, endpoints_for(idp), refresh_margin_s=0.5)
    token = await tokens.access_token("acc_exp", "microsoft", oauth)
    await asyncio.sleep(1.1)
    with pytest.raises(LoginError):
        await asyncio.to_thread(_xoauth2, stack, "alice@example.test", token)
    idp.set_token_lifetime(oauth.client_id, 3600)
    fresh = await tokens.access_token("acc_exp", "microsoft", oauth)
    assert fresh != token
    await asyncio.to_thread(_xoauth2, stack, "alice@example.test", fresh)
    tokens.close()


async def test_app_only_token_logs_in_to_the_granted_mailbox(
    stack: StackEnv, idp: IdentityProvider, sqlite_url: str
) -> None:
    store = await open_store(sqlite_url)
    client = idp.register_client(secret="app", app_mailbox="alice@example.test")
    oauth = oauth_for(client, flow="client_credentials")
    await store.put_smtp_settings(
        SmtpSettings(host="127.0.0.1", port=stack.smtp_port, auth="xoauth2", oauth=oauth)
    )
    tokens = TokenSource(store, BOX, endpoints_for(idp))
    token = await tokens.access_token("smtp", "microsoft", oauth)
    await asyncio.to_thread(_xoauth2, stack, "alice@example.test", token)
    tokens.close()
    await store.close()


async def test_fetcher_probe_with_a_real_token_source(
    stack: StackEnv, idp: IdentityProvider, sqlite_url: str
) -> None:
    """The fetcher's connection test and folder list log in with TokenSource tokens; revoked
    consent comes back as a permanent consent_revoked error that says to re-authorise."""
    store = await open_store(sqlite_url)
    await _signed_in(idp, store, stack, "acc_probe", "bob@example.test")
    account = await store.get_account("acc_probe")
    assert account is not None and account.oauth is not None
    tokens = TokenSource(store, BOX, endpoints_for(idp))
    await probe.test_connection(account, secrets=BOX, tokens=tokens, timeout_s=10)
    assert "INBOX" in await probe.list_folders(account, secrets=BOX, tokens=tokens, timeout_s=10)

    idp.revoke_user("bob@example.test", account.oauth.client_id)
    tokens.forget("acc_probe")
    with pytest.raises(MailboxError) as caught:
        await probe.test_connection(account, secrets=BOX, tokens=tokens, timeout_s=10)
    assert caught.value.kind == "consent_revoked" and caught.value.permanent
    assert "Re-authorise" in str(caught.value)
    tokens.close()
    await store.close()
