"""What the IMAP and POP3 adapters share before they speak their protocol: the server and
security settings, the login, the network timeout, and the TLS context they connect with."""

import ssl

from postroom_fetcher.adapters.credentials import Credentials
from postroom_fetcher.adapters.tls import tls_context
from postroom_shared.models import MailboxSettings

__all__ = ["MailboxConnection"]


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
        return tls_context(verify=self._settings.verify_tls, ca_file=self._ca_file)
