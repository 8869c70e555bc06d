"""Shared objects of the running app (`app.state`), typed, for the routes."""

from fastapi import Request
from faststream.rabbit import RabbitBroker

from postroom_api.settings import ApiSettings
from postroom_replier.ops import RelaySettings
from postroom_shared.oauth import OAuthEndpoints, TokenSource
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store

__all__ = [
    "broker_of",
    "forget_tokens",
    "mail_ca_file_of",
    "oauth_endpoints_of",
    "relay_of",
    "secrets_of",
    "settings_of",
    "store_of",
    "tokens_of",
]


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def broker_of(request: Request) -> RabbitBroker:
    broker: RabbitBroker = request.app.state.broker
    return broker


def settings_of(request: Request) -> ApiSettings:
    settings: ApiSettings = request.app.state.settings
    return settings


def secrets_of(request: Request) -> SecretBox:
    """The box that encrypts stored secrets, made once per app."""
    box: SecretBox | None = getattr(request.app.state, "secret_box", None)
    if box is None:
        box = SecretBox.from_settings(settings_of(request))
        request.app.state.secret_box = box
    return box


def oauth_endpoints_of(request: Request) -> OAuthEndpoints:
    """Where the identity providers are (POSTROOM_OAUTH_*; accounts may override the URLs)."""
    return OAuthEndpoints.from_settings(settings_of(request))


def tokens_of(request: Request) -> TokenSource:
    """One OAuth access-token source per app (it caches tokens until shortly before expiry)."""
    tokens: TokenSource | None = getattr(request.app.state, "token_source", None)
    if tokens is None:
        tokens = TokenSource(store_of(request), secrets_of(request), oauth_endpoints_of(request))
        request.app.state.token_source = tokens
    return tokens


def mail_ca_file_of(request: Request) -> str | None:
    """Extra CA bundle for mailbox servers (POSTROOM_MAIL_CA_FILE, shared with the fetcher)."""
    return settings_of(request).mail_ca_file


def relay_of(request: Request) -> RelaySettings:
    """The built-in relay (POSTROOM_SMTP_*, the variables the replier reads), read once."""
    relay: RelaySettings | None = getattr(request.app.state, "relay", None)
    if relay is None:
        relay = RelaySettings()
        request.app.state.relay = relay
    return relay


def forget_tokens(request: Request, owner: str) -> None:
    """Drop cached access tokens of `owner` (an account id or "smtp") after its OAuth settings
    or sign-in changed, so the next probe uses the new ones."""
    tokens: TokenSource | None = getattr(request.app.state, "token_source", None)
    if tokens is not None:
        tokens.forget(owner)
