"""Microsoft/Google accounts: the fetcher logs in with XOAUTH2 or OAUTHBEARER tokens from the
real TokenSource (refresh-token grant at the local test IdP), Dovecot's oauth2 passdb checks
them, and a revoked consent turns the account into `needs_reauth` without a retry loop."""

import asyncio
import uuid
from typing import Any

import pytest
from pydantic import SecretStr

from postroom_fetcher.service import Fetcher
from postroom_fetcher.settings import FetcherSettings
from postroom_shared.contracts import AccountStateV1, MailReceivedV1
from postroom_shared.models import EmailAccount
from postroom_shared.oauth import TokenSource
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store
from tests.idp import IdentityProvider
from tests.integration.fetcher_helpers import FAST, broker_and_tap, mail, new_folder, wait_for
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


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    return sqlite_store


def _settings(stack: StackEnv, url: str, **extra: Any) -> FetcherSettings:
    return FetcherSettings(
        store_url=url, broker_url=stack.amqp_url, secret_key=SecretStr(SECRET), **extra
    )


async def _signed_in_account(
    idp: IdentityProvider,
    store: Store,
    stack: StackEnv,
    *,
    user: str,
    folder: str,
    mechanism: str = "xoauth2",
) -> tuple[EmailAccount, str]:
    """An account whose owner went through the real sign-in; (stored account, client id)."""
    client = idp.register_client(secret="s", redirect_uris=(REDIRECT,), default_user=user)
    oauth = oauth_for(client).model_copy(update={"mechanism": mechanism})
    account_id = f"acc_{uuid.uuid4().hex[:8]}"
    base = account_for(account_id, "microsoft", oauth, user=user, imap_port=stack.imap_port)
    box = base.box.model_copy(update={"folder": folder})
    await store.put_account(base.model_copy(update={"mailbox": box, "use_idle": False}))
    await sign_in(idp, store, BOX, "microsoft", account_id, oauth, login_hint=user)
    stored = await store.get_account(account_id)
    assert stored is not None and stored.oauth is not None
    assert stored.oauth.refresh_token_enc
    return stored, client.client_id


@pytest.mark.parametrize("mechanism", ["xoauth2", "oauthbearer"])
async def test_fetches_over_oauth(
    stack: StackEnv, idp: IdentityProvider, store: Store, sqlite_url: str, mechanism: str
) -> None:
    folder = new_folder(stack, "alice", mail("oauth 1"), mail("oauth 2"))
    acc, _ = await _signed_in_account(
        idp, store, stack, user="alice@example.test", folder=folder, mechanism=mechanism
    )
    tokens = TokenSource(store, BOX, endpoints_for(idp))
    checks = idp.validations["tokeninfo"]
    try:
        async with broker_and_tap(stack, sqlite_url, "mail.received.v1") as (broker, tap):
            fetcher = Fetcher(
                store=store,
                broker=broker,
                secrets=BOX,
                settings=_settings(stack, sqlite_url),
                tokens=tokens,
            )
            assert await fetcher.poll_once(acc) == 2
            events = await tap.collect("mail.received.v1", 2)
    finally:
        tokens.close()
    assert idp.validations["tokeninfo"] > checks  # Dovecot asked the IdP about our token
    keys = {MailReceivedV1.model_validate_json(body).mail_key for body in events}
    assert len(keys) == 2 and all(k.startswith(f"{acc.id}/{folder}/") for k in keys)


async def test_revoked_consent_means_needs_reauth_not_a_retry_loop(
    stack: StackEnv, idp: IdentityProvider, store: Store, sqlite_url: str
) -> None:
    folder = new_folder(stack, "support", mail("before revocation"))
    acc, client_id = await _signed_in_account(
        idp, store, stack, user="support@example.test", folder=folder
    )
    tokens = TokenSource(store, BOX, endpoints_for(idp))
    cfg = _settings(stack, sqlite_url, **{**FAST, "reauth_retry_s": 3600.0})
    try:
        async with broker_and_tap(stack, sqlite_url, "mail.received.v1", "account.state.v1") as (
            broker,
            tap,
        ):
            fetcher = Fetcher(store=store, broker=broker, secrets=BOX, settings=cfg, tokens=tokens)
            task = asyncio.create_task(fetcher.supervise())
            try:
                assert len(await tap.collect("mail.received.v1", 1, settle_s=0)) == 1
                idp.revoke_user("support@example.test", client_id)
                tokens.forget(acc.id)  # as if the cached token had expired

                async def needs_reauth() -> bool:
                    state = await store.get_account_state(acc.id)
                    return state is not None and state.status == "needs_reauth"

                assert await wait_for(needs_reauth, timeout_s=10)
                state = await store.get_account_state(acc.id)
                await asyncio.sleep(2.0)
                later = await store.get_account_state(acc.id)
                events = await tap.collect("account.state.v1", 1, timeout_s=2, settle_s=0.5)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    finally:
        tokens.close()
    assert state is not None and later is not None
    assert state.error_kind == "consent_revoked"
    assert "Re-authorise" in (state.last_error or "")
    assert later.failures == state.failures  # no tight retry loop
    assert state.next_attempt is not None and state.since is not None
    assert (state.next_attempt - state.since).total_seconds() > 3000
    parsed = [AccountStateV1.model_validate_json(body) for body in events]
    assert [(e.account_id, e.status) for e in parsed] == [(acc.id, "needs_reauth")]
