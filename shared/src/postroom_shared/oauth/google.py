"""Google OAuth 2.0: a hand-built authorisation request and code exchange (PKCE S256, offline
access so a refresh token is issued), and refreshes through google-auth.

Why not google_auth_oauthlib's Flow: these are two small, fixed requests, and Flow's own
switches are process-wide environment variables. Google needs the full mail scope for IMAP and
SMTP ("read, compose and send"). Every endpoint must be https (`https_only`): the token endpoint
receives the client secret, refresh tokens and codes, the authorisation endpoint the sign-in.
"""

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import google.auth.exceptions
import requests
from google.auth.transport.requests import Request as GoogleRequest
from google.oauth2.credentials import Credentials

from postroom_shared.errors import TransientError
from postroom_shared.oauth.errors import OAuthError, token_error
from postroom_shared.oauth.http import IdpSession
from postroom_shared.oauth.scopes import GOOGLE_SCOPES

__all__ = [
    "GOOGLE_SCOPES",
    "Refreshed",
    "authorization_url",
    "exchange_code",
    "https_only",
    "refresh",
]


def https_only(url: str, what: str) -> str:
    """`url`, or OAuthError when it is not https (a setting or an account stored before the
    rule, or written around the API)."""
    if not url.lower().startswith("https://") or len(url) <= len("https://"):
        raise OAuthError(f"the Google {what} must be an https URL; got {url!r}")
    return url


def authorization_url(
    auth_url: str,
    *,
    client_id: str,
    redirect_uri: str,
    scopes: list[str],
    state: str,
    code_challenge: str,
    login_hint: str | None,
) -> str:
    params = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": " ".join(scopes),
        "state": state,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256",
        # a refresh token, and a new one even when the user consented before
        "access_type": "offline",
        "prompt": "consent",
    }
    if login_hint:
        params["login_hint"] = login_hint
    https_only(auth_url, "authorisation endpoint")
    sep = "&" if "?" in auth_url else "?"
    return auth_url + sep + urlencode(params)


def exchange_code(
    session: requests.Session,
    token_url: str,
    *,
    client_id: str,
    client_secret: str | None,
    code: str,
    code_verifier: str,
    redirect_uri: str,
    owner: str,
) -> dict[str, Any]:
    https_only(token_url, "token endpoint")
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": code_verifier,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
    }
    if client_secret:
        data["client_secret"] = client_secret
    try:
        resp = session.post(token_url, data=data, headers={"Accept": "application/json"})
    except requests.RequestException as exc:
        raise TransientError(f"Google token endpoint {token_url} is unreachable: {exc}") from exc
    try:
        body = resp.json()
    except ValueError:
        body = None
    if resp.status_code >= 500 or (body is None and resp.status_code == 429):
        raise TransientError(f"Google token endpoint answered HTTP {resp.status_code}")
    if not isinstance(body, dict):
        raise OAuthError(f"Google token endpoint answered HTTP {resp.status_code} without JSON")
    if "error" in body:
        raise token_error(
            "google", owner, str(body["error"]), str(body.get("error_description", ""))
        )
    if not body.get("access_token"):
        raise OAuthError("Google returned no access token")
    return body


class Refreshed:
    def __init__(self, access_token: str, expires_in: float, refresh_token: str | None) -> None:
        self.access_token, self.expires_in, self.refresh_token = (
            access_token,
            expires_in,
            refresh_token,
        )


def refresh(
    session: IdpSession,
    token_url: str,
    *,
    client_id: str,
    client_secret: str,
    refresh_token: str,
    owner: str,
) -> Refreshed:
    https_only(token_url, "token endpoint")
    creds = Credentials(  # type: ignore[no-untyped-call]
        token=None,
        refresh_token=refresh_token,
        token_uri=token_url,
        client_id=client_id,
        client_secret=client_secret,
    )
    try:
        creds.refresh(GoogleRequest(session))  # type: ignore[no-untyped-call]
    except google.auth.exceptions.RefreshError as exc:
        data = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
        error = str(data.get("error", ""))
        if not error:
            status = session.last_status or 0
            if exc.retryable or status >= 500 or status == 429:
                raise TransientError(f"Google token refresh failed: {exc.args[0]}") from exc
            raise OAuthError(f"Google token refresh failed: {exc.args[0]}") from exc
        raise token_error("google", owner, error, str(data.get("error_description", ""))) from exc
    except google.auth.exceptions.TransportError as exc:
        raise TransientError(f"Google token endpoint {token_url} is unreachable: {exc}") from exc
    expiry = creds.expiry
    expires_in = (
        (expiry.replace(tzinfo=UTC) - datetime.now(UTC)).total_seconds() if expiry else 3600.0
    )
    return Refreshed(str(creds.token), expires_in, creds.refresh_token)
