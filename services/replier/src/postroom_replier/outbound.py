"""Which SMTP server automatic mail goes through (docs/features.md F1), resolved afresh for every
send.

The custom server stored through the API (`store.get_smtp_settings()`) wins; without one, the
deployment's built-in relay (`RelaySettings`, `POSTROOM_SMTP_*`) is used. Reading the stored
settings per send (one small document) makes an API change take effect at the next mail,
without a restart and without cache invalidation across replicas.
"""

from typing import Literal, Protocol

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from postroom_replier.adapters.smtp import SmtpTarget, TokenGetter
from postroom_shared.errors import ConfigError
from postroom_shared.models import OAuthSettings, Security, SmtpSettings
from postroom_shared.oauth import SMTP_OWNER
from postroom_shared.secretbox import SecretBox
from postroom_shared.store.ports import ConfigReader

__all__ = ["AccessTokens", "RelaySettings", "resolve_target", "smtp_oauth_provider"]

OAuthProvider = Literal["microsoft", "google"]
_GOOGLE_HOSTS = ("gmail.com", "googlemail.com", "google.com")


class AccessTokens(Protocol):
    """What the replier needs of `postroom_shared.oauth.TokenSource`."""

    async def access_token(
        self, owner: str, provider: OAuthProvider, oauth: OAuthSettings
    ) -> str: ...

    def forget(self, owner: str) -> None: ...


class RelaySettings(BaseSettings):
    """The built-in default relay (`POSTROOM_SMTP_*`): ready with no admin action. The API
    builds it with `RelaySettings()` from the same variables the replier reads."""

    model_config = SettingsConfigDict(env_prefix="POSTROOM_SMTP_", extra="ignore", frozen=True)

    host: str = Field(default="127.0.0.1", description="Default relay host (F1 built-in).")
    port: int = Field(default=25, ge=1, le=65535)
    security: Security = Security.STARTTLS
    verify_tls: bool = True
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: float = Field(default=30.0, gt=0)


def smtp_oauth_provider(settings: SmtpSettings) -> OAuthProvider:
    """Whose token endpoint serves the SMTP server's XOAUTH2 tokens: the stored
    `oauth_provider`, else Google when Google's endpoints are overridden or the host is
    Google's, else Microsoft (Exchange Online / Office 365, the other XOAUTH2 provider)."""
    if settings.oauth_provider is not None:
        return settings.oauth_provider
    oauth = settings.oauth
    host = settings.host.lower().rstrip(".")
    if oauth is not None and (oauth.token_url or oauth.auth_url) and not oauth.authority_url:
        return "google"
    if any(host == h or host.endswith("." + h) for h in _GOOGLE_HOSTS):
        return "google"
    return "microsoft"


def _token_getter(tokens: AccessTokens | None, settings: SmtpSettings) -> TokenGetter | None:
    oauth = settings.oauth
    if tokens is None or oauth is None:
        return None
    provider = smtp_oauth_provider(settings)

    async def token(fresh: bool) -> str:
        if fresh:
            tokens.forget(SMTP_OWNER)
        return await tokens.access_token(SMTP_OWNER, provider, oauth)

    return token


def custom_target(
    stored: SmtpSettings,
    *,
    secrets: SecretBox,
    tokens: AccessTokens | None,
    timeout_s: float,
) -> SmtpTarget:
    """The stored custom server as a send target; a setting that cannot work is a ConfigError
    (permanent: retrying cannot fix it) naming what is missing."""
    if stored.auth == "xoauth2":
        if stored.oauth is None:
            raise ConfigError("SMTP auth xoauth2 needs oauth settings (client id, tenant ...)")
        if not stored.username:
            raise ConfigError("SMTP auth xoauth2 needs the mailbox address as username")
        if tokens is None:
            raise ConfigError("SMTP auth xoauth2: this process has no OAuth token source")
    password: str | None = None
    if stored.auth == "password" and stored.password_enc:
        password = secrets.decrypt(stored.password_enc)
    return SmtpTarget(
        host=stored.host,
        port=stored.port,
        security=stored.security,
        verify_tls=stored.verify_tls,
        username=stored.username if stored.auth != "none" else None,
        password=password,
        timeout_s=timeout_s,
        # "password" without a username means no AUTH (a relay that trusts our address)
        auth=stored.auth if stored.auth != "password" or stored.username else "none",
        token=_token_getter(tokens, stored) if stored.auth == "xoauth2" else None,
    )


def relay_target(relay: RelaySettings) -> SmtpTarget:
    return SmtpTarget(
        host=relay.host,
        port=relay.port,
        security=relay.security,
        verify_tls=relay.verify_tls,
        username=relay.username or None,
        password=relay.password.get_secret_value() if relay.password else None,
        timeout_s=relay.timeout_s,
    )


async def resolve_target(
    store: ConfigReader, *, secrets: SecretBox, relay: RelaySettings, tokens: AccessTokens | None
) -> SmtpTarget:
    """The server the next automatic mail goes through: the stored custom one, else the relay."""
    stored = await store.get_smtp_settings()
    if stored is None:
        return relay_target(relay)
    return custom_target(stored, secrets=secrets, tokens=tokens, timeout_s=relay.timeout_s)
