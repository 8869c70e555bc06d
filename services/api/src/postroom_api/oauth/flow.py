"""The authorisation-code sign-in (with PKCE S256), started and finished by the API (the
other services only use the refresh token it stores, through `postroom_shared.oauth`).

`start_authorization` returns the provider URL to send the admin's (or mailbox owner's)
browser to, and the binding secret that browser must hold as a cookie; the `state` in the URL
carries the sealed pending sign-in (see `state.py`). `complete_authorization` runs on the
redirect back: it checks the state and the browser's cookie, records the state as used,
exchanges the code, and stores the encrypted refresh token on the account (or on the SMTP
settings) at once.
"""

import asyncio
import secrets as token_source
import time
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict

from postroom_api.oauth.state import (
    STATE_TTL_S,
    PendingSignIn,
    binding_cookie,
    check_binding,
    new_binding,
    open_state,
    pkce_challenge,
    pkce_verifier,
    seal_state,
)
from postroom_shared.errors import TransientError
from postroom_shared.models import OAuthSettings
from postroom_shared.oauth.endpoints import OAuthEndpoints
from postroom_shared.oauth.errors import OAuthError, ReauthorizationRequired
from postroom_shared.oauth.owners import SMTP_OWNER, describe, stored_oauth
from postroom_shared.oauth.tokens import client_secret
from postroom_shared.secretbox import SecretBox
from postroom_shared.store.ports import ConfigStore

if TYPE_CHECKING:
    from postroom_shared.oauth.http import IdpSession

__all__ = ["AuthStart", "complete_authorization", "start_authorization"]

OAuthProvider = Literal["microsoft", "google"]


class AuthStart(BaseModel):
    """A started sign-in: the provider URL (with the sealed `state`), and the cookie the
    browser that opens it must carry back to the callback (`cookie` = `binding`)."""

    model_config = ConfigDict(frozen=True)

    url: str
    state: str
    state_id: str
    binding: str
    expires_at: float

    @property
    def cookie(self) -> str:
        return binding_cookie(self.state_id)


def _with_state(url: str, state: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "state"]
    query.append(("state", state))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _check_startable(provider: str, oauth: OAuthSettings) -> None:
    if provider not in ("microsoft", "google"):
        raise OAuthError(f"provider {provider!r} does not sign in with OAuth")
    if oauth.flow == "client_credentials":
        raise OAuthError(
            "this client uses app-only access (client credentials): there is no sign-in;"
            " grant the app's permissions in the tenant instead"
        )


def start_authorization(
    provider: str,
    account_id: str,
    oauth: OAuthSettings,
    secrets: SecretBox,
    endpoints: OAuthEndpoints,
    *,
    redirect_uri: str,
    login_hint: str | None = None,
    console: bool = False,
) -> AuthStart:
    """The URL that starts the sign-in, and its state. Blocking for Microsoft (msal reads the
    authority's OpenID configuration): call it through `asyncio.to_thread` from async code.
    `account_id` is the account whose refresh token the callback stores, or "smtp"; `console`
    is sealed in the state: the callback then returns the browser to the console."""
    _check_startable(provider, oauth)
    # the providers' libraries load with the first sign-in, not with the API (about 25 MB)
    from postroom_shared.oauth import google, microsoft
    from postroom_shared.oauth.http import IdpSession

    redirect = oauth.redirect_uri or redirect_uri
    expires_at = time.time() + STATE_TTL_S
    state_id = token_source.token_urlsafe(16)
    binding, binding_hash = new_binding()
    if provider == "microsoft":
        with IdpSession(endpoints) as session:
            app = microsoft.new_app(oauth, client_secret(oauth, secrets), endpoints, session)
            with warnings.catch_warnings():
                # msal recommends response_mode=form_post; the callback takes the query (as
                # Google's, which has no form_post), and a leaked code is useless: PKCE binds it
                # to the verifier sealed in the state, and it is single-use
                warnings.filterwarnings("ignore", "response_mode='form_post'", UserWarning)
                flow = app.initiate_auth_code_flow(
                    scopes=microsoft.user_scopes(oauth),
                    redirect_uri=redirect,
                    login_hint=login_hint,
                )
        pending = PendingSignIn(
            owner=account_id,
            provider="microsoft",
            code_verifier=flow["code_verifier"],
            redirect_uri=redirect,
            scopes=list(flow["scope"]),
            nonce=flow.get("nonce"),
            state_id=state_id,
            binding=binding_hash,
            expires_at=expires_at,
            console=console,
        )
        state = seal_state(pending, secrets)
        url = _with_state(flow["auth_uri"], state)
        return AuthStart(
            url=url, state=state, state_id=state_id, binding=binding, expires_at=expires_at
        )
    verifier = pkce_verifier()
    scopes = list(oauth.scopes or google.GOOGLE_SCOPES)
    pending = PendingSignIn(
        owner=account_id,
        provider="google",
        code_verifier=verifier,
        redirect_uri=redirect,
        scopes=scopes,
        state_id=state_id,
        binding=binding_hash,
        expires_at=expires_at,
        console=console,
    )
    state = seal_state(pending, secrets)
    url = google.authorization_url(
        oauth.auth_url or endpoints.google_auth_url,
        client_id=oauth.client_id,
        redirect_uri=redirect,
        scopes=scopes,
        state=state,
        code_challenge=pkce_challenge(verifier),
        login_hint=login_hint,
    )
    return AuthStart(
        url=url, state=state, state_id=state_id, binding=binding, expires_at=expires_at
    )


def _authorize_error(pending: PendingSignIn, query: dict[str, str]) -> OAuthError:
    error, description = query.get("error", ""), query.get("error_description", "")
    if error == "access_denied":
        return OAuthError(
            f"the sign-in for {describe(pending.owner)} was declined ({description or error});"
            " ask the mailbox owner to sign in and accept the requested permissions, or a"
            " tenant admin to grant consent for the organisation"
        )
    if error in ("consent_required", "interaction_required", "login_required"):
        return OAuthError(
            f"the sign-in for {describe(pending.owner)} needs consent ({error}: {description});"
            " ask a tenant admin to grant consent for the app, then sign in again"
        )
    return OAuthError(
        f"the identity provider refused the sign-in for {describe(pending.owner)}"
        f" ({error}: {description})"
    )


def _exchange(
    pending: PendingSignIn,
    state: str,
    query: dict[str, str],
    oauth: OAuthSettings,
    secrets: SecretBox,
    endpoints: OAuthEndpoints,
) -> str:
    """The refresh token for the callback's code (blocking)."""
    from postroom_shared.oauth import google
    from postroom_shared.oauth.http import IdpSession

    secret = client_secret(oauth, secrets)
    with IdpSession(endpoints) as session:
        try:
            if pending.provider == "microsoft":
                result = _exchange_microsoft(
                    pending, state, query, oauth, secret, endpoints, session
                )
            else:
                result = google.exchange_code(
                    session,
                    oauth.token_url or endpoints.google_token_url,
                    client_id=oauth.client_id,
                    client_secret=secret,
                    code=query["code"],
                    code_verifier=pending.code_verifier,
                    redirect_uri=pending.redirect_uri,
                    owner=pending.owner,
                )
        except ReauthorizationRequired as exc:
            # at this step invalid_grant is about the code, not about a stored grant
            raise OAuthError(
                f"the sign-in code for {describe(pending.owner)} was refused (expired, already"
                f" used, or issued for another redirect URI); start the sign-in again."
                f" Details: {exc}"
            ) from exc
    refresh_token = result.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        raise OAuthError(
            f"the identity provider issued no refresh token for {describe(pending.owner)}; the"
            " app registration must allow offline access (Microsoft: offline_access;"
            " Google: access_type=offline)"
        )
    return refresh_token


def _exchange_microsoft(
    pending: PendingSignIn,
    state: str,
    query: dict[str, str],
    oauth: OAuthSettings,
    secret: str | None,
    endpoints: OAuthEndpoints,
    session: "IdpSession",
) -> dict[str, Any]:
    from postroom_shared.oauth import microsoft

    app = microsoft.new_app(oauth, secret, endpoints, session)
    flow = {
        "state": state,
        "redirect_uri": pending.redirect_uri,
        "scope": pending.scopes,
        "code_verifier": pending.code_verifier,
        "nonce": pending.nonce,
    }
    try:
        result = app.acquire_token_by_auth_code_flow(flow, {**query, "state": state})
    except RuntimeError as exc:  # msal's nonce check
        raise OAuthError(f"the Microsoft sign-in could not be completed: {exc}") from exc
    except microsoft.FAILED_REQUEST as exc:
        raise TransientError(
            f"the Microsoft token endpoint failed ({exc!r}); try the sign-in again"
        ) from exc
    return microsoft.checked(result, pending.owner)


async def complete_authorization(
    state: str,
    query: dict[str, str],
    *,
    cookies: Mapping[str, str],
    store: ConfigStore,
    secrets: SecretBox,
    endpoints: OAuthEndpoints,
) -> str:
    """Finish a sign-in from the redirect's query parameters and the browser's `cookies`;
    returns the owner (account id or "smtp") whose encrypted refresh token is now stored."""
    pending = open_state(state, secrets)
    if query.get("state") not in (None, state):
        raise OAuthError("the OAuth callback's state does not match; start the sign-in again")
    check_binding(pending, cookies)
    # before the code is exchanged: of two callbacks with one state, one gets past this line
    until = datetime.fromtimestamp(pending.expires_at, UTC)
    if not await store.consume_oauth_state(pending.state_id, until):
        raise OAuthError(
            "this sign-in was already completed (or refused) once: a sign-in link works"
            " once; start the sign-in again"
        )
    if query.get("error"):
        raise _authorize_error(pending, query)
    if not query.get("code"):
        raise OAuthError("the OAuth callback carries neither a code nor an error")
    oauth = await stored_oauth(store, pending.owner)
    if oauth is None:
        raise OAuthError(
            f"{describe(pending.owner)} no longer exists or has no OAuth settings; create it"
            " again and restart the sign-in"
        )
    if pending.owner != SMTP_OWNER:
        account = await store.get_account(pending.owner)
        if account is not None and account.provider != pending.provider:
            raise OAuthError(
                f"{describe(pending.owner)} now uses provider {account.provider!r}, not"
                f" {pending.provider!r}; start the sign-in again"
            )
    refresh_token = await asyncio.to_thread(
        _exchange, pending, state, query, oauth, secrets, endpoints
    )
    if not await store.set_refresh_token(pending.owner, secrets.encrypt(refresh_token)):
        raise OAuthError(
            f"{describe(pending.owner)} was deleted or lost its OAuth settings during the"
            " sign-in; nothing was stored"
        )
    return pending.owner
