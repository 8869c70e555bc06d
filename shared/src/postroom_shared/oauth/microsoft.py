"""Microsoft identity platform through msal (blocking calls: run them in a thread).

msal does OpenID discovery when an application object is built, so building one is a network
call; `instance_discovery=False` keeps it from asking login.microsoftonline.com about other
authorities (sovereign clouds, tests). Public clients (no secret) and confidential clients
(secret) both run the authorisation-code flow with PKCE; app-only access (client credentials)
needs a secret.
"""

from typing import Any

import msal  # type: ignore[import-untyped]
import requests

from postroom_shared.errors import TransientError
from postroom_shared.models import OAuthSettings
from postroom_shared.oauth.endpoints import OAuthEndpoints
from postroom_shared.oauth.errors import OAuthError, token_error
from postroom_shared.oauth.scopes import MICROSOFT_APP_SCOPES, MICROSOFT_SCOPES

__all__ = [
    "FAILED_REQUEST",
    "MICROSOFT_APP_SCOPES",
    "MICROSOFT_SCOPES",
    "app_scopes",
    "authority_of",
    "checked",
    "new_app",
    "user_scopes",
]

_RESERVED = frozenset({"openid", "profile", "offline_access"})

# what msal lets through from a token request that failed on the way: the network, a 5xx
# (MsalServiceError), or an answer that is not JSON (a proxy's error page)
FAILED_REQUEST: tuple[type[Exception], ...] = (
    requests.RequestException,
    msal.exceptions.MsalServiceError,
    ValueError,
)


def authority_of(oauth: OAuthSettings, endpoints: OAuthEndpoints) -> str:
    url = oauth.authority_url or f"{endpoints.microsoft_authority.rstrip('/')}/{oauth.tenant}"
    host, _, tenant = url.removeprefix("https://").partition("/")
    if not url.startswith("https://") or not host or not tenant.strip("/"):
        raise OAuthError(
            f"the Microsoft authority must be an https URL with a tenant, like"
            f" https://login.microsoftonline.com/<tenant>; got {url!r}"
        )
    return url.rstrip("/")


def user_scopes(oauth: OAuthSettings) -> list[str]:
    # msal refuses the reserved scopes and adds them itself
    return [s for s in (oauth.scopes or MICROSOFT_SCOPES) if s not in _RESERVED]


def app_scopes(oauth: OAuthSettings) -> list[str]:
    return list(oauth.scopes or MICROSOFT_APP_SCOPES)


def new_app(
    oauth: OAuthSettings,
    client_secret: str | None,
    endpoints: OAuthEndpoints,
    session: requests.Session,
) -> Any:
    """A msal application for the account's client (network: OpenID discovery)."""
    authority = authority_of(oauth, endpoints)
    kwargs: dict[str, Any] = {
        "client_id": oauth.client_id,
        "authority": authority,
        "http_client": session,
        "instance_discovery": False,
        "timeout": endpoints.timeout_s,
    }
    try:
        if client_secret:
            return msal.ConfidentialClientApplication(client_credential=client_secret, **kwargs)
        return msal.PublicClientApplication(**kwargs)
    except requests.RequestException as exc:
        raise TransientError(f"Microsoft authority {authority} is unreachable: {exc}") from exc
    except (ValueError, RuntimeError) as exc:
        raise OAuthError(f"Microsoft authority {authority} is not usable: {exc}") from exc


def checked(result: Any, owner: str) -> dict[str, Any]:
    """msal's answer, or the error it stands for."""
    if not isinstance(result, dict):
        raise OAuthError(f"msal returned no token for {owner!r}")
    if "error" in result:
        raise token_error(
            "microsoft", owner, str(result["error"]), str(result.get("error_description", ""))
        )
    if not result.get("access_token"):
        raise OAuthError(f"Microsoft returned no access token for {owner!r}")
    return result
