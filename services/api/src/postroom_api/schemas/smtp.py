"""The outbound SMTP server (docs/features.md F1) over HTTP; the password and OAuth secrets
write-only."""

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from postroom_api.schemas.common import Address, Host, In, Secret, View
from postroom_api.schemas.oauth import OAuthIn, OAuthView
from postroom_shared.models import Security, SmtpAuth, SmtpSettings

__all__ = ["SmtpIn", "SmtpSettingsView", "SmtpView", "TestMailIn", "TestMailView"]


class SmtpIn(In):
    """A custom SMTP server for all automatic mail (DELETE /v1/smtp: the built-in relay)."""

    host: Host
    port: int = Field(default=587, ge=1, le=65535, description="587 (STARTTLS), 465 (TLS) or 25.")
    security: Security = Field(
        default=Security.STARTTLS, description="none, starttls (default) or tls (implicit)."
    )
    verify_tls: bool = Field(
        default=True, description="Verify the certificate; turn off only explicitly."
    )
    auth: SmtpAuth = Field(
        default="password",
        description="none, password, or xoauth2 (Microsoft/Google OAuth 2.0; needs oauth).",
    )
    username: Annotated[str, StringConstraints(min_length=1, max_length=320)] | None = Field(
        default=None, description="Login name; required for password and xoauth2."
    )
    password: Secret | None = Field(
        default=None,
        description="Write-only, stored encrypted; omitted on update: kept only while host,"
        " port, security, verify_tls, auth and username stay the same, else required again.",
    )
    oauth: OAuthIn | None = Field(default=None, description="For auth = xoauth2.")
    oauth_provider: Literal["microsoft", "google"] | None = Field(
        default=None,
        description="auth = xoauth2: whose tokens the server takes; unset: Google for Google's"
        " hosts or endpoints, else Microsoft.",
    )


class SmtpSettingsView(View):
    host: str
    port: int
    security: Security
    verify_tls: bool
    auth: SmtpAuth
    username: str | None
    password_set: bool
    oauth: OAuthView | None
    oauth_provider: Literal["microsoft", "google"] | None

    @classmethod
    def of(cls, smtp: SmtpSettings) -> "SmtpSettingsView":
        return cls.read(
            smtp,
            password_set=bool(smtp.password_enc),
            oauth=OAuthView.of(smtp.oauth) if smtp.oauth else None,
        )


class SmtpView(BaseModel):
    mode: Literal["builtin", "custom"] = Field(
        description="builtin: the deployment's relay (no admin action needed)."
    )
    custom: SmtpSettingsView | None


class TestMailIn(In):
    __test__ = False  # not a pytest test class, despite its name

    to: Address = Field(description="Recipient of the test mail.")
    from_address: Address | None = Field(
        default=None,
        description="From; default: the address of the first active account (automatic mail"
        " goes out from the accounts' own addresses).",
    )


class TestMailView(BaseModel):
    __test__ = False  # not a pytest test class, despite its name

    ok: bool = Field(description="The server accepted the mail.")
    smtp_response: str = Field(description="The server's answer, e.g. '250 2.0.0 Ok'.")
    error: str | None = Field(description="Why it failed, in the server's or the TLS words.")
    server: str = Field(description="host:port it went (or tried to go) through.")
