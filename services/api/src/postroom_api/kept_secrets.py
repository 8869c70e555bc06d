"""When a stored secret may be kept: one rule for the accounts and the SMTP server settings.

Why: secrets are write-only, so an update that omits one keeps the stored one. That must never
send it elsewhere. A password kept while the host, the port or the TLS settings change goes to
whoever answers there (`security: none` with `verify_tls: false`: in clear, to anybody on the
path); a refresh token or a client secret kept while the mailbox host or the OAuth endpoints
change hands access tokens to another server. So a secret is kept only while everything that
decides where it, or what it yields, goes is unchanged: provider, host, port, security,
verify_tls, username, and the OAuth client with its endpoints. Otherwise the password and the
client secret must be sent again (a 422 names the field and what changed), and the refresh
token is dropped (a new sign-in issues one).
"""

from collections.abc import Mapping
from typing import Protocol

from postroom_shared.models import OAuthClient, Security

__all__ = [
    "Destination",
    "account_destination",
    "moved",
    "required_again",
    "smtp_destination",
]

Destination = dict[str, object]
"""What decides where a secret (or the tokens it yields) goes, by the field name an admin
knows (`mailbox.host`, `oauth.token_url`, ...)."""


class _Server(Protocol):
    host: str
    port: int
    security: Security
    verify_tls: bool


def _client(oauth: OAuthClient | None, prefix: str) -> Destination:
    fields = ("client_id", "tenant", "authority_url", "token_url", "auth_url")
    return {f"{prefix}{name}": getattr(oauth, name) if oauth else None for name in fields}


def _server(server: _Server | None, prefix: str) -> Destination:
    return {
        f"{prefix}host": server.host.lower() if server else None,
        f"{prefix}port": server.port if server else None,
        f"{prefix}security": server.security if server else None,
        f"{prefix}verify_tls": server.verify_tls if server else None,
    }


def account_destination(
    provider: str, mailbox: _Server | None, username: str | None, oauth: OAuthClient | None
) -> Destination:
    """An account's: its provider, mailbox server and login, and OAuth client."""
    return {
        "provider": provider,
        **_server(mailbox, "mailbox."),
        "mailbox.username": username,
        **_client(oauth, "oauth."),
    }


def smtp_destination(
    server: _Server,
    *,
    auth: str,
    username: str | None,
    oauth_provider: str | None,
    oauth: OAuthClient | None,
) -> Destination:
    """The SMTP server's: the server and login, whose tokens it takes, and the OAuth client."""
    return {
        **_server(server, ""),
        "auth": auth,
        "username": username,
        "oauth_provider": oauth_provider,
        **_client(oauth, "oauth."),
    }


def moved(old: Mapping[str, object] | None, new: Mapping[str, object]) -> list[str]:
    """The fields of `new` that differ from `old` (none when there is nothing stored)."""
    if old is None:
        return []
    return [name for name, value in new.items() if old.get(name) != value]


def required_again(what: str, changed: list[str]) -> str:
    """The 422 message of a secret that must be sent again because `changed` changed."""
    return (
        f"required again: {', '.join(changed)} changed, and a stored {what} is only kept while"
        " the server and the client it was given for stay the same"
    )
