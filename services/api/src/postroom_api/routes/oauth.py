"""OAuth 2.0 sign-in: started by an admin for an account or the SMTP server, opened in a
browser, finished by the identity provider's redirect to the callback.

1. `POST .../oauth/start` (admin key) answers a sign-in link to Postroom's `/oauth/begin`.
2. The browser that opens the link gets an HttpOnly, SameSite=Lax cookie holding a random
   secret, and is redirected to the provider (the secret's hash is sealed in the `state`).
3. The provider redirects that browser to `/oauth/callback`, which needs no API key: the sealed,
   15-minute `state`, the browser's cookie, and the state's single use (recorded in the store)
   authorise it. A callback URL seen by anybody else (history, logs, a screen) is useless.
4. A sign-in started from the web console (`account_sign_in(..., console=True)`) carries that
   in its sealed state: its callback sends the browser back to the account's console page with
   the outcome (`oauth/console_return.py`) instead of answering JSON.
"""

import asyncio
import posixpath
import time
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Body, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from postroom_api.auth import RequireAdmin
from postroom_api.deps import OAuthEndpointsDep, SecretsDep, StoreDep, TokensDep
from postroom_api.oauth.console_return import Notice, console_owner, return_page, seal_notice
from postroom_api.oauth.flow import complete_authorization, start_authorization
from postroom_api.oauth.state import SignInLink, open_link, seal_link
from postroom_api.routes.accounts import load_account
from postroom_api.routing import CONFLICT, NOT_FOUND, PathId, SafeRoute, conflict
from postroom_api.schemas import OAuthDoneView, OAuthStartIn, OAuthStartView
from postroom_api.store import ApiStore
from postroom_replier.ops import smtp_oauth_provider
from postroom_shared.errors import TransientError
from postroom_shared.models import OAuthSettings
from postroom_shared.oauth import SMTP_OWNER, OAuthEndpoints, OAuthError
from postroom_shared.secretbox import SecretBox

__all__ = ["account_sign_in", "callback_router", "router", "smtp_sign_in"]

router = APIRouter(prefix="/v1", tags=["oauth"], route_class=SafeRoute)
# Outside /v1, where every route needs an API key: the browser comes back without one.
callback_router = APIRouter(tags=["oauth"], route_class=SafeRoute)

# 424 Failed Dependency, not a 5xx: the API worked; the identity provider (or the account's
# OAuth settings pointing at it) did not.
_IDP_DOWN: dict[int | str, dict[str, Any]] = {
    424: {"description": "The identity provider could not be reached or answered badly."}
}
_CALLBACK = "oauth_callback"
_BEGIN = "oauth_begin"


def _link_for(request: Request, redirect: str) -> tuple[str, str, bool]:
    """(URL of the sign-in link's page, cookie path, secure cookie) for a callback at
    `redirect`: the link lives next to the callback (same origin, same path prefix behind a
    proxy), so the cookie it sets comes back with the callback."""
    parts = urlsplit(redirect)
    if parts.path.endswith("/callback"):
        begin = urlunsplit(parts._replace(path=parts.path[: -len("callback")] + "begin", query=""))
    else:
        begin = str(request.url_for(_BEGIN))
    begin_path = urlsplit(begin).path
    cookie_path = posixpath.commonpath(
        [posixpath.dirname(begin_path), posixpath.dirname(parts.path)]
    )
    return begin, cookie_path or "/", parts.scheme == "https"


async def _start(
    request: Request,
    secrets: SecretBox,
    endpoints: OAuthEndpoints,
    *,
    provider: str,
    owner: str,
    oauth: OAuthSettings,
    login_hint: str | None,
    console: bool = False,
) -> OAuthStartView:
    redirect = oauth.redirect_uri or str(request.url_for(_CALLBACK))
    try:
        # msal reads the authority's OpenID configuration: blocking I/O
        start = await asyncio.to_thread(
            start_authorization,
            provider,
            owner,
            oauth,
            secrets,
            endpoints,
            redirect_uri=redirect,
            login_hint=login_hint,
            console=console,
        )
    except OAuthError as exc:
        raise conflict(str(exc)) from None
    except Exception as exc:  # network, TLS, a broken authority document: the IdP's side
        raise HTTPException(
            status_code=424, detail=f"the identity provider could not be reached: {exc}"
        ) from None
    begin, cookie_path, secure = _link_for(request, redirect)
    link = SignInLink(
        provider_url=start.url,
        state_id=start.state_id,
        binding_secret=start.binding,
        cookie_path=cookie_path,
        secure=secure,
        expires_at=start.expires_at,
    )
    ticket = seal_link(link, secrets)
    url = f"{begin}?{urlencode({'ticket': ticket})}"
    return OAuthStartView(authorization_url=url, redirect_uri=redirect)


@router.post(
    "/accounts/{account_id}/oauth/start",
    summary="Start the OAuth 2.0 sign-in of a microsoft or google account",
    description="Returns a sign-in link (`authorization_url`): open it in the browser that signs"
    " in (the admin's, or the mailbox owner's). It binds the sign-in to that browser with a"
    " cookie and sends it on to the provider, which redirects back to /oauth/callback; the"
    " callback stores the refresh token on the account. The link works for 15 minutes; the"
    " sign-in completes once.",
    responses={**NOT_FOUND, **CONFLICT, **_IDP_DOWN},
    dependencies=[RequireAdmin],
)
async def start_account_sign_in(
    request: Request,
    store: StoreDep,
    secrets: SecretsDep,
    endpoints: OAuthEndpointsDep,
    account_id: PathId,
    body: Annotated[OAuthStartIn | None, Body()] = None,
) -> OAuthStartView:
    hint = body.login_hint if body else None
    return await account_sign_in(request, store, secrets, endpoints, account_id, hint)


async def account_sign_in(
    request: Request,
    store: ApiStore,
    secrets: SecretBox,
    endpoints: OAuthEndpoints,
    account_id: str,
    login_hint: str | None = None,
    *,
    console: bool = False,
) -> OAuthStartView:
    """The sign-in link of a microsoft or google account (409 for other providers); with
    `console`, its callback returns the browser to the account's console page."""
    account = await load_account(store, account_id)
    if account.oauth is None or account.provider not in ("microsoft", "google"):
        raise conflict(f"account {account_id} ({account.provider}) does not sign in with OAuth")
    return await _start(
        request,
        secrets,
        endpoints,
        provider=account.provider,
        owner=account.id,
        oauth=account.oauth,
        login_hint=login_hint or account.address,
        console=console,
    )


@router.post(
    "/smtp/oauth/start",
    summary="Start the OAuth 2.0 sign-in of the SMTP server (auth xoauth2)",
    responses={**CONFLICT, **_IDP_DOWN},
    dependencies=[RequireAdmin],
)
async def start_smtp_sign_in(
    request: Request,
    store: StoreDep,
    secrets: SecretsDep,
    endpoints: OAuthEndpointsDep,
    body: Annotated[OAuthStartIn | None, Body()] = None,
) -> OAuthStartView:
    return await smtp_sign_in(request, store, secrets, endpoints, body)


async def smtp_sign_in(
    request: Request,
    store: ApiStore,
    secrets: SecretBox,
    endpoints: OAuthEndpoints,
    body: OAuthStartIn | None = None,
    *,
    console: bool = False,
) -> OAuthStartView:
    """The sign-in link of the SMTP server (409 unless it uses auth xoauth2); with `console`,
    its callback returns the browser to the console's SMTP page."""
    body = body or OAuthStartIn()
    smtp = await store.get_smtp_settings()
    if smtp is None or smtp.auth != "xoauth2" or smtp.oauth is None:
        raise conflict("the SMTP server does not use OAuth: PUT /v1/smtp with auth xoauth2 first")
    # The replier picks the token endpoint the same way when it sends: a sign-in with another
    # provider would store a refresh token the replier never uses.
    provider = smtp_oauth_provider(smtp)
    if body.provider is not None and body.provider != provider:
        raise conflict(
            f"the SMTP server takes {provider} tokens: PUT /v1/smtp with"
            f" oauth_provider {body.provider!r} first"
        )
    hint = body.login_hint or smtp.username
    return await _start(
        request,
        secrets,
        endpoints,
        provider=provider,
        owner=SMTP_OWNER,
        oauth=smtp.oauth,
        login_hint=hint,
        console=console,
    )


# What identity providers send back is ASCII (RFC 6749 appendix A); sealed values are
# urlsafe base64 behind a version prefix. Saying so keeps every valid URL well inside what the
# HTTP server reads in a request line (uvicorn drops the connection on ~100 KB).
_ASCII = r"^[\x20-\x7e]*$"
_SEALED = r"^[A-Za-z0-9:_=-]+$"
_Param = Annotated[str | None, Query(max_length=2000, pattern=_ASCII)]
_Text = Annotated[str | None, Query(max_length=2000)]


@callback_router.get(
    "/oauth/begin",
    name=_BEGIN,
    summary="The sign-in link: binds the sign-in to this browser, then goes to the provider",
    status_code=302,
    response_class=RedirectResponse,
    responses={
        302: {"description": "To the identity provider, with the binding cookie set."},
        400: {"description": "Not a link of this installation, or older than 15 minutes."},
    },
)
async def oauth_begin(
    secrets: SecretsDep,
    ticket: Annotated[str, Query(min_length=1, max_length=24000, pattern=_SEALED)],
) -> RedirectResponse:
    try:
        link = open_link(ticket, secrets)
    except OAuthError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None
    response = RedirectResponse(link.provider_url, status_code=302)
    response.set_cookie(
        link.cookie,
        link.binding_secret,
        max_age=max(1, int(link.expires_at - time.time())),
        path=link.cookie_path,
        secure=link.secure,
        httponly=True,
        samesite="lax",  # sent with the provider's top-level redirect back to the callback
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@callback_router.get(
    "/oauth/callback",
    name=_CALLBACK,
    summary="Where the identity provider sends the browser back (no API key: the state is sealed)",
    description="A sign-in started from the web console comes back to the account's console"
    " page instead (200 with a page that moves on to it), with the outcome as a notice.",
    response_model=OAuthDoneView,
    responses={400: {"description": "The sign-in failed; `detail` says why."}, **_IDP_DOWN},
)
async def oauth_callback(
    request: Request,
    store: StoreDep,
    secrets: SecretsDep,
    endpoints: OAuthEndpointsDep,
    tokens: TokensDep,
    state: Annotated[str, Query(min_length=1, max_length=8000, pattern=_SEALED)],
    code: Annotated[str | None, Query(max_length=8000, pattern=_ASCII)] = None,
    error: _Param = None,
    error_description: _Text = None,
    session_state: _Param = None,
    client_info: _Param = None,
) -> OAuthDoneView | Response:
    query = {
        key: value
        for key, value in {
            "state": state,
            "code": code,
            "error": error,
            "error_description": error_description,
            "session_state": session_state,
            "client_info": client_info,
        }.items()
        if value is not None
    }
    back_to = console_owner(state, secrets)
    try:
        owner = await complete_authorization(
            state,
            query,
            cookies=request.cookies,
            store=store,
            secrets=secrets,
            endpoints=endpoints,
        )
    except (OAuthError, TransientError) as exc:
        if back_to:
            return return_page(back_to, seal_notice(back_to, Notice(False, str(exc)), secrets))
        status_code = 400 if isinstance(exc, OAuthError) else 424
        raise HTTPException(status_code=status_code, detail=str(exc)) from None
    tokens.forget(owner)  # the next connection test uses the new refresh token
    what = "the SMTP server" if owner == SMTP_OWNER else f"account {owner}"
    detail = f"Signed in: {what} can now be used."
    if back_to:
        return return_page(back_to, seal_notice(back_to, Notice(True, detail), secrets))
    return OAuthDoneView(owner=owner, detail=detail)
