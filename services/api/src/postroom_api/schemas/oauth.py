"""The OAuth 2.0 client of an account or the SMTP server over HTTP, and the sign-in's requests
and answers.

The client's fields are defined once, in `postroom_shared.models.OAuthClient`: the stored
settings add the encrypted secrets, `OAuthIn` adds them in clear (write-only) and narrows what a
client may send, `OAuthView` shows `*_set` flags instead.

Why `OAuthIn` narrows instead of the stored model: settings stored before a rule (an `http://`
endpoint, a tenant with other characters) must still load, so the workers can refuse them with
a clear error at use; new input never gets that far.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from postroom_api.schemas.common import Address, HttpsUrl, In, Secret, Url
from postroom_shared.models import OAuthClient, OAuthSettings

__all__ = ["OAuthDoneView", "OAuthIn", "OAuthStartIn", "OAuthStartView", "OAuthView"]

_Scope = Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=r"^[!-~]+$")]


class OAuthIn(In, OAuthClient):
    """The OAuth 2.0 client of a microsoft or google account (or of the SMTP server)."""

    model_config = ConfigDict(extra="forbid")

    client_secret: Secret | None = Field(
        default=None,
        description="Write-only, stored encrypted. Omitted on update: the stored one is kept"
        " only while the provider, the mailbox server and login, the client id, tenant and"
        " endpoints stay the same; otherwise it is required again.",
    )
    refresh_token: Secret | None = Field(
        default=None,
        description="Write-only. Normally stored by the OAuth callback; omitted on update: kept"
        " only while the provider, the mailbox server and login, the client, its endpoints,"
        " flow and scopes stay the same; otherwise dropped (sign in again).",
    )
    # narrower than what may be stored (see the module docstring)
    tenant: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,200}$")] = Field(
        default="common", description="Microsoft tenant (id or domain)."
    )
    authority_url: HttpsUrl | None = Field(
        default=None,
        description="Microsoft authority override (sovereign clouds, tests); https only.",
    )
    token_url: HttpsUrl | None = Field(
        default=None, description="Google token endpoint override; https only."
    )
    auth_url: HttpsUrl | None = Field(
        default=None, description="Google authorisation endpoint override; https only."
    )
    scopes: list[_Scope] = Field(
        default_factory=list,
        max_length=20,
        description="Empty: the provider's mail scopes (Google: the full mail scope).",
    )
    redirect_uri: Url | None = Field(
        default=None,
        description="Callback URL registered with the provider; default: this API's"
        " /oauth/callback as the request reached it.",
    )


class OAuthView(OAuthClient):
    client_secret_set: bool = Field(description="A client secret is stored (never returned).")
    refresh_token_set: bool = Field(description="Signed in: a refresh token is stored.")

    @classmethod
    def of(cls, oauth: OAuthSettings) -> "OAuthView":
        return cls(
            **oauth.client_fields(),
            client_secret_set=bool(oauth.client_secret_enc),
            refresh_token_set=bool(oauth.refresh_token_enc),
        )


class OAuthStartIn(In):
    provider: Literal["microsoft", "google"] | None = Field(
        default=None,
        description="Only for the SMTP server's sign-in; default: google for Google hosts or"
        " endpoints, else microsoft (accounts use their own provider).",
    )
    login_hint: Address | None = Field(
        default=None, description="Account to preselect on the provider's sign-in page."
    )


class OAuthDoneView(BaseModel):
    owner: str = Field(description="The account id, or 'smtp', whose sign-in is now stored.")
    detail: str


class OAuthStartView(BaseModel):
    authorization_url: str = Field(
        description="The sign-in link: open it in the browser that signs in. It binds the"
        " sign-in to that browser (a cookie), then sends it to the identity provider."
    )
    redirect_uri: str = Field(description="Where the provider sends the browser back.")
