"""OAuth errors and the mapping of an identity provider's error codes onto them.

The mapping decides what an admin sees and whether a service retries: a refused refresh token
means a human must sign in again (ReauthorizationRequired), a bad client registration is a
configuration problem, and an overloaded provider is worth another try (TransientError).
"""

from postroom_shared.errors import PermanentError, PostroomError, TransientError

__all__ = ["OAuthError", "ReauthorizationRequired", "token_error"]


class OAuthError(PermanentError):
    """An OAuth step failed in a way retrying will not fix; the message names the cause."""


class ReauthorizationRequired(OAuthError):
    """The stored grant is gone (consent revoked, refresh token expired, revoked or rotated
    away): an admin must run the account's OAuth sign-in again."""


# RFC 6749 §5.2 plus OpenID Connect's codes for "a person must act"
_REAUTH = frozenset({"invalid_grant", "interaction_required", "consent_required", "login_required"})
_TRANSIENT = frozenset({"temporarily_unavailable", "server_error", "slow_down"})

_PROVIDER_NAMES = {"microsoft": "Microsoft", "google": "Google"}


def token_error(provider: str, owner: str, error: str, description: str = "") -> PostroomError:
    """The exception for a token endpoint's `error` answer for `owner` (an account id or
    "smtp")."""
    who = _PROVIDER_NAMES.get(provider, provider)
    detail = f"{error}: {description}" if description else error
    target = "the SMTP server's OAuth sign-in" if owner == "smtp" else f"account {owner!r}"
    if error in _REAUTH:
        return ReauthorizationRequired(
            f"{who} no longer accepts the stored authorisation of {target} ({detail}); consent"
            " was revoked or the refresh token expired. Re-authorise it: start the OAuth"
            " sign-in again and let the mailbox owner (or a tenant admin) accept."
        )
    if error in _TRANSIENT:
        return TransientError(f"{who} is temporarily unavailable ({detail}); will retry")
    if error == "invalid_client":
        return OAuthError(
            f"{who} rejected the client id or secret of {target} ({detail}); check the app"
            " registration (the client secret may have expired) and the stored secret."
        )
    if error == "access_denied":
        return OAuthError(
            f"the sign-in for {target} was declined ({detail}); ask the mailbox owner to sign"
            " in and accept the requested permissions, or a tenant admin to grant consent."
        )
    if error in ("unauthorized_client", "invalid_scope", "unsupported_grant_type"):
        return OAuthError(
            f"{who} does not allow this client to get mail access for {target} ({detail});"
            " check the app registration's permissions and the configured scopes."
        )
    return OAuthError(f"{who} refused the token request for {target} ({detail})")
