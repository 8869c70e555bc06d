"""OAuth 2.0 for mailbox and SMTP logins (Microsoft through msal, Google through google-auth).

- `start_authorization` / `complete_authorization`: the authorisation-code sign-in with PKCE,
  run by the API; the refresh token is stored encrypted on the account (or the SMTP settings).
  A sign-in is bound to the browser that opens its link (`SignInLink`, a cookie) and single-use.
- `TokenSource`: access tokens for XOAUTH2/OAUTHBEARER logins, refreshed before expiry, with
  every rotated refresh token stored at once; client credentials for Microsoft app-only access.
- `xoauth2_payload` / `oauthbearer_payload`: the SASL strings that carry a token.

Errors: `ReauthorizationRequired` (consent revoked, refresh token expired or revoked: a human
must sign in again), `OAuthError` (configuration or a refused sign-in), `TransientError`
(network, 5xx: retry later).
"""

from postroom_shared.oauth.endpoints import OAuthEndpoints
from postroom_shared.oauth.errors import OAuthError, ReauthorizationRequired
from postroom_shared.oauth.flow import AuthStart, complete_authorization, start_authorization
from postroom_shared.oauth.google import GOOGLE_SCOPES
from postroom_shared.oauth.microsoft import MICROSOFT_APP_SCOPES, MICROSOFT_SCOPES
from postroom_shared.oauth.owners import SMTP_OWNER
from postroom_shared.oauth.sasl import oauthbearer_payload, xoauth2_payload
from postroom_shared.oauth.state import SignInLink, open_link, seal_link
from postroom_shared.oauth.tokens import TokenSource

__all__ = [
    "GOOGLE_SCOPES",
    "MICROSOFT_APP_SCOPES",
    "MICROSOFT_SCOPES",
    "SMTP_OWNER",
    "AuthStart",
    "OAuthEndpoints",
    "OAuthError",
    "ReauthorizationRequired",
    "SignInLink",
    "TokenSource",
    "complete_authorization",
    "oauthbearer_payload",
    "open_link",
    "seal_link",
    "start_authorization",
    "xoauth2_payload",
]
