"""The pending sign-in carried in the OAuth `state` parameter, the link that starts it in a
browser, and PKCE.

Why: the API keeps no storage for sign-ins in progress. Everything the callback needs (whose
sign-in it is, the PKCE code verifier, the OpenID nonce, the redirect URI and scopes) travels
encrypted and authenticated with the installation's SecretBox inside `state`: only this
installation can mint one, and it expires after 15 minutes. A state is not a bearer token:

- it is bound to the browser that started the sign-in: the sign-in link (`SignInLink`, sealed
  the same way) sets a cookie holding a random secret whose SHA-256 is sealed in the state, and
  the callback refuses a state without it (`check_binding`). Whoever sees the provider URL or
  the callback URL (browser history, logs, a shared screen) cannot finish the sign-in elsewhere;
- it is single-use: the callback records its `state_id` in the store before anything else.
"""

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from postroom_shared.errors import ConfigError
from postroom_shared.oauth.errors import OAuthError
from postroom_shared.secretbox import SecretBox

__all__ = [
    "BINDING_COOKIE_PREFIX",
    "STATE_TTL_S",
    "PendingSignIn",
    "SignInLink",
    "binding_cookie",
    "check_binding",
    "new_binding",
    "open_link",
    "open_state",
    "pkce_challenge",
    "pkce_verifier",
    "seal_link",
    "seal_state",
]

STATE_TTL_S = 15 * 60
BINDING_COOKIE_PREFIX = "postroom_oauth_"
_KIND = "postroom.oauth.state.v2"
_LINK_KIND = "postroom.oauth.link.v1"
_MAX_STATE = 8192


class PendingSignIn(BaseModel):
    model_config = ConfigDict(frozen=True)

    owner: str = Field(min_length=1, description="Account id, or 'smtp'.")
    provider: Literal["microsoft", "google"]
    code_verifier: str = Field(min_length=43, max_length=128)
    redirect_uri: str
    scopes: list[str]
    nonce: str | None = None
    state_id: str = Field(
        pattern=r"^[A-Za-z0-9_-]{16,64}$", description="Recorded as used by the callback."
    )
    binding: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the secret in the browser's cookie."
    )
    expires_at: float
    console: bool = Field(
        default=False,
        description="Started from the web console: the callback sends the browser back to the"
        " account's page (a fixed path built from `owner`) instead of answering JSON.",
    )


class SignInLink(BaseModel):
    """What the sign-in link carries to the browser: where to go, and the cookie to set."""

    model_config = ConfigDict(frozen=True)

    provider_url: str
    state_id: str
    binding_secret: str
    cookie_path: str = "/"
    secure: bool = True
    expires_at: float

    @property
    def cookie(self) -> str:
        return binding_cookie(self.state_id)


def new_binding() -> tuple[str, str]:
    """(secret for the browser's cookie, its SHA-256 for the state)."""
    secret = secrets.token_urlsafe(32)
    return secret, _hash(secret)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def binding_cookie(state_id: str) -> str:
    """The name of the cookie that binds the sign-in `state_id` to a browser."""
    return BINDING_COOKIE_PREFIX + state_id


def check_binding(pending: PendingSignIn, cookies: Mapping[str, str]) -> None:
    """OAuthError unless `cookies` (the callback request's) hold the sign-in's binding secret."""
    presented = cookies.get(binding_cookie(pending.state_id), "")
    if not presented or not hmac.compare_digest(_hash(presented), pending.binding):
        raise OAuthError(
            "this sign-in was started in another browser (or its cookie is gone): open the"
            " link that POST .../oauth/start returned in the browser you sign in with, and"
            " finish the sign-in there"
        )


def pkce_verifier() -> str:
    """A fresh RFC 7636 code verifier (86 characters of the unreserved alphabet)."""
    return secrets.token_urlsafe(64)


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def seal_state(pending: PendingSignIn, box: SecretBox) -> str:
    return box.encrypt(json.dumps({"kind": _KIND, **pending.model_dump()}))


def seal_link(link: SignInLink, box: SecretBox) -> str:
    return box.encrypt(json.dumps({"kind": _LINK_KIND, **link.model_dump()}))


def open_link(ticket: str, box: SecretBox, *, now: float | None = None) -> SignInLink:
    """The sign-in link a ticket stands for; OAuthError when it is not ours or too old."""
    try:
        if not ticket or len(ticket) > 3 * _MAX_STATE:
            raise ValueError("no ticket")
        data = json.loads(box.decrypt(ticket))
        if not isinstance(data, dict) or data.pop("kind", None) != _LINK_KIND:
            raise ValueError("not a sign-in link")
        link = SignInLink.model_validate(data)
    except (ConfigError, ValueError, ValidationError) as exc:
        raise OAuthError(
            "this sign-in link was not issued by this Postroom installation (or"
            " POSTROOM_SECRET_KEY changed since); start the sign-in again"
        ) from exc
    if (time.time() if now is None else now) > link.expires_at:
        raise OAuthError(
            f"this sign-in link is older than {STATE_TTL_S // 60} minutes; start the sign-in again"
        )
    return link


def open_state(state: str, box: SecretBox, *, now: float | None = None) -> PendingSignIn:
    """The sign-in a `state` value stands for; OAuthError when it is not ours or too old."""
    if not state or len(state) > _MAX_STATE:
        raise OAuthError("the OAuth callback carries no valid state; start the sign-in again")
    try:
        data = json.loads(box.decrypt(state))
        if not isinstance(data, dict) or data.pop("kind", None) != _KIND:
            raise ValueError("not a sign-in state")
        pending = PendingSignIn.model_validate(data)
    except (ConfigError, ValueError, ValidationError) as exc:
        raise OAuthError(
            "the OAuth callback's state was not issued by this Postroom installation (or"
            " POSTROOM_SECRET_KEY changed since); start the sign-in again"
        ) from exc
    if (time.time() if now is None else now) > pending.expires_at:
        raise OAuthError(
            f"the sign-in took longer than {STATE_TTL_S // 60} minutes; start it again"
        )
    return pending
