"""The pending sign-in carried in the OAuth `state` parameter, and PKCE.

Why: the API keeps no storage for sign-ins in progress. Everything the callback needs (whose
sign-in it is, the PKCE code verifier, the OpenID nonce, the redirect URI and scopes) travels
encrypted and authenticated with the installation's SecretBox inside `state`, which also makes
it the CSRF token: only this installation can mint one, and it expires after 15 minutes.
"""

import base64
import hashlib
import json
import secrets
import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from postroom_shared.errors import ConfigError
from postroom_shared.oauth.errors import OAuthError
from postroom_shared.secretbox import SecretBox

__all__ = [
    "STATE_TTL_S",
    "PendingSignIn",
    "open_state",
    "pkce_challenge",
    "pkce_verifier",
    "seal_state",
]

STATE_TTL_S = 15 * 60
_KIND = "postroom.oauth.state.v1"
_MAX_STATE = 8192


class PendingSignIn(BaseModel):
    model_config = ConfigDict(frozen=True)

    owner: str = Field(min_length=1, description="Account id, or 'smtp'.")
    provider: Literal["microsoft", "google"]
    code_verifier: str = Field(min_length=43, max_length=128)
    redirect_uri: str
    scopes: list[str]
    nonce: str | None = None
    expires_at: float


def pkce_verifier() -> str:
    """A fresh RFC 7636 code verifier (86 characters of the unreserved alphabet)."""
    return secrets.token_urlsafe(64)


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def seal_state(pending: PendingSignIn, box: SecretBox) -> str:
    return box.encrypt(json.dumps({"kind": _KIND, **pending.model_dump()}))


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
