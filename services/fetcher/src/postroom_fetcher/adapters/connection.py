"""What the IMAP and POP3 adapters share before they speak their protocol: the server and
security settings, the login, the network timeout, and the TLS context they connect with.

TLS is verified by default, optionally trusting a private CA (`POSTROOM_MAIL_CA_FILE`).
Turning verification off is an explicit per-account choice (`verify_tls: false`); it never
happens as a fallback."""

import ssl
from dataclasses import dataclass
from typing import Literal

from postroom_shared.models import MailboxSettings

__all__ = ["Credentials", "MailboxConnection"]


@dataclass(frozen=True)
class Credentials:
    username: str
    secret: str
    mechanism: Literal["password", "xoauth2", "oauthbearer"] = "password"

    def __repr__(self) -> str:  # never show the secret in a log line
        return f"Credentials(username={self.username!r}, mechanism={self.mechanism!r})"


class MailboxConnection:
    """One account's mailbox server, not yet connected; subclasses add the protocol."""

    def __init__(
        self,
        settings: MailboxSettings,
        credentials: Credentials,
        *,
        timeout_s: float,
        ca_file: str | None = None,
    ) -> None:
        self._settings = settings
        self._credentials = credentials
        self._timeout = timeout_s
        self._ca_file = ca_file

    @property
    def where(self) -> str:
        return f"{self._settings.host}:{self._settings.port}"

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self._ca_file:
            context.load_verify_locations(cafile=self._ca_file)
        if not self._settings.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context
