"""OAuth 2.0 for mailbox and SMTP logins (Microsoft through msal, Google through google-auth):
what every service that logs in with a token needs.

- `TokenSource`: access tokens for XOAUTH2/OAUTHBEARER logins, refreshed before expiry, with
  every rotated refresh token stored at once; client credentials for Microsoft app-only access.
  The fetcher, the replier and the API's connection tests each run one.
- `google`, `microsoft`, `endpoints`, `http`: the identity providers and how they are reached.
- `xoauth2_payload` / `oauthbearer_payload`: the SASL strings that carry a token.

The authorisation-code sign-in that stores the refresh token in the first place is the API's
(`postroom_api.oauth`): only the API runs it.

Errors: `ReauthorizationRequired` (consent revoked, refresh token expired or revoked: a human
must sign in again), `OAuthError` (configuration or a refused sign-in), `TransientError`
(network, 5xx: retry later).
"""

from postroom_shared.oauth.endpoints import OAuthEndpoints
from postroom_shared.oauth.errors import OAuthError, ReauthorizationRequired
from postroom_shared.oauth.owners import SMTP_OWNER
from postroom_shared.oauth.sasl import oauthbearer_payload, xoauth2_payload
from postroom_shared.oauth.scopes import GOOGLE_SCOPES, MICROSOFT_APP_SCOPES, MICROSOFT_SCOPES
from postroom_shared.oauth.tokens import TokenSource

__all__ = [
    "GOOGLE_SCOPES",
    "MICROSOFT_APP_SCOPES",
    "MICROSOFT_SCOPES",
    "SMTP_OWNER",
    "OAuthEndpoints",
    "OAuthError",
    "ReauthorizationRequired",
    "TokenSource",
    "oauthbearer_payload",
    "xoauth2_payload",
]
