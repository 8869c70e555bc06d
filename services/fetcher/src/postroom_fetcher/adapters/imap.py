"""IMAP with imapclient. These functions block: the service runs them in a worker thread.

Errors are translated into the shared error tree with the cause named, so the account's state
can say "authentication failed" rather than a stack trace.
"""

import contextlib
import ssl
from dataclasses import dataclass

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from postroom_shared.errors import PermanentError, TransientError
from postroom_shared.models import AfterRead, MailboxSettings, Security

__all__ = ["FetchedMail", "ImapMailbox"]


@dataclass(frozen=True)
class FetchedMail:
    uid: int
    size: int
    raw: bytes | None  # None: over the size limit, not downloaded


class ImapMailbox:
    """One logged-in IMAP connection to one folder."""

    def __init__(self, settings: MailboxSettings, password: str, *, timeout_s: float) -> None:
        self._settings = settings
        self._password = password
        self._timeout = timeout_s
        self._client: IMAPClient | None = None

    @property
    def client(self) -> IMAPClient:
        if self._client is None:
            raise RuntimeError("not connected")
        return self._client

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self._settings.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def connect(self) -> int:
        """Connect, log in, select the folder; returns its UIDVALIDITY."""
        s = self._settings
        try:
            client = IMAPClient(
                s.host,
                port=s.port,
                ssl=s.security is Security.TLS,
                ssl_context=self._tls_context(),
                timeout=self._timeout,
            )
            self._client = client
            if s.security is Security.STARTTLS:
                client.starttls(self._tls_context())
            client.login(s.username, self._password)
            status = client.select_folder(s.folder)
        except LoginError as exc:
            raise PermanentError(f"IMAP authentication failed for {s.username}: {exc}") from exc
        except ssl.SSLError as exc:
            raise PermanentError(f"TLS failure talking to {s.host}:{s.port}: {exc}") from exc
        except (TimeoutError, OSError) as exc:
            raise TransientError(f"cannot reach IMAP server {s.host}:{s.port}: {exc}") from exc
        except IMAPClientError as exc:
            raise PermanentError(f"IMAP error selecting {s.folder!r}: {exc}") from exc
        return int(status[b"UIDVALIDITY"])

    def new_uids(self, after_uid: int) -> list[int]:
        # `n:*` always matches the highest UID, even when it is below n: filter.
        uids = self.client.search(["UID", f"{after_uid + 1}:*"])
        return sorted(int(uid) for uid in uids if int(uid) > after_uid)

    def fetch(self, uids: list[int], *, max_bytes: int) -> list[FetchedMail]:
        """Download `uids` without setting \\Seen; mails over `max_bytes` are not downloaded."""
        sizes = self.client.fetch(uids, ["RFC822.SIZE"])
        small = [uid for uid in uids if int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0)) <= max_bytes]
        bodies = self.client.fetch(small, ["BODY.PEEK[]"]) if small else {}
        result = []
        for uid in uids:
            if uid not in sizes:
                continue  # expunged meanwhile
            size = int(sizes[uid].get(b"RFC822.SIZE", 0))
            raw = bodies.get(uid, {}).get(b"BODY[]")
            result.append(
                FetchedMail(uid=uid, size=size, raw=bytes(raw) if raw is not None else None)
            )
        return result

    def finish(self, uids: list[int], after_read: AfterRead) -> None:
        """Apply the account's after-read action; call only after the publish was confirmed."""
        if not uids or after_read is AfterRead.LEAVE_UNREAD:
            return
        if after_read is AfterRead.MARK_READ:
            self.client.add_flags(uids, [b"\\Seen"])
            return
        self.client.delete_messages(uids)
        if self.client.has_capability("UIDPLUS"):
            self.client.uid_expunge(uids)
        else:
            self.client.expunge()

    def close(self) -> None:
        if self._client is None:
            return
        with contextlib.suppress(IMAPClientError, OSError):
            self._client.logout()
        self._client = None
