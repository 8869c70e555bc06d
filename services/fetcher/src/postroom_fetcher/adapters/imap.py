"""IMAP with imapclient. Every method blocks: the fetcher runs them on the account's own
worker thread, never on the event loop.

Each failure is translated into a `MailboxError` naming its cause (authentication, TLS,
missing folder, network, rate limit), from the exception type and the server's own words.
Security is never downgraded: STARTTLS chosen but not offered is an error, not plain text.
"""

import contextlib
import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from postroom_fetcher.adapters.connection import MailboxConnection
from postroom_fetcher.domain.errors import MailboxError, classify_response, mailbox_error
from postroom_shared.models import AfterRead, Security

__all__ = ["IdleWake", "ImapBody", "ImapMailbox"]

SEEN = b"\\Seen"


@dataclass(frozen=True)
class IdleWake:
    """Why `idle_wait` returned: new mail announced, or the wait ended early with nothing
    (the server closed the connection or sent something we do not act on: go and look)."""

    new_mail: bool
    early: bool


class ImapMailbox(MailboxConnection):
    """One logged-in IMAP connection to one account."""

    _client: IMAPClient | None = None
    _idling = False

    @property
    def client(self) -> IMAPClient:
        if self._client is None:
            raise RuntimeError("not connected")
        return self._client

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        user = self._credentials.username
        try:
            yield
        except MailboxError:
            raise
        except LoginError as exc:
            text = _text(exc)
            found = classify_response(text)
            kind = found.kind if found.kind in ("auth", "rate_limited", "network") else "auth"
            hint = f"; {found.hint}" if found.hint else ""
            if self._credentials.mechanism != "password" and kind == "auth":
                hint += (
                    "; the OAuth access token was refused: check that the username is the"
                    " signed-in mailbox and that IMAP access is enabled for it"
                )
            raise mailbox_error(
                f"IMAP login of {user} at {self.where} failed: {text}{hint}",
                kind=kind,
                permanent=kind == "auth",
            ) from exc
        except ssl.SSLError as exc:
            raise mailbox_error(
                f"TLS failure talking to {self.where} ({doing}): {exc}", kind="tls", permanent=True
            ) from exc
        except IMAPClientAbortError as exc:
            text = _text(exc)
            # imaplib raises "abort" both for a broken socket and for the server's BYE; a BYE
            # that is not about the connection is a server-side failure ("FETCH failed:
            # Internal error"), which the sync counts against the mail it was fetching.
            said = "socket error" not in text and "unexpected" not in text
            server_failed = said and classify_response(text).kind == "protocol"
            raise mailbox_error(
                f"connection to {self.where} lost ({doing}): {text}",
                kind="protocol" if server_failed else "network",
                permanent=False,
            ) from exc
        except (TimeoutError, OSError) as exc:
            raise mailbox_error(
                f"cannot reach IMAP server {self.where} ({doing}): {exc}",
                kind="network",
                permanent=False,
            ) from exc
        except IMAPClientError as exc:
            text = _text(exc)
            found = classify_response(text)
            hint = f"; {found.hint}" if found.hint else ""
            raise mailbox_error(
                f"IMAP {doing} at {self.where} failed: {text}{hint}",
                kind=found.kind,
                permanent=found.permanent,
            ) from exc

    def connect(self) -> None:
        """Connect with the chosen security and log in."""
        s = self._settings
        context = self._tls_context()
        with self._errors("connect"):
            client = IMAPClient(
                s.host,
                port=s.port,
                ssl=s.security is Security.TLS,
                ssl_context=context,
                timeout=self._timeout,
            )
            self._client = client
            if s.security is Security.STARTTLS:
                if not client.has_capability("STARTTLS"):
                    raise mailbox_error(
                        f"IMAP server {self.where} does not offer STARTTLS; Postroom will not"
                        " log in without TLS (choose security 'tls' for an implicit-TLS port)",
                        kind="tls",
                        permanent=True,
                    )
                client.starttls(context)
        with self._errors("login"):
            c = self._credentials
            if c.mechanism == "xoauth2":
                client.oauth2_login(c.username, c.secret)
            elif c.mechanism == "oauthbearer":
                client.oauthbearer_login(c.username, c.secret)
            else:
                client.login(c.username, c.secret)

    def select(self, folder: str, *, readonly: bool = False) -> tuple[int, int]:
        """Select `folder` (read-write for fetching: after-read needs it; read-only for
        probes); its (UIDVALIDITY, EXISTS)."""
        with self._errors(f"select of folder {folder!r}"):
            status = self.client.select_folder(folder, readonly=readonly)
        return int(status[b"UIDVALIDITY"]), int(status.get(b"EXISTS", 0))

    def list_folders(self) -> list[str]:
        """Selectable folder names, decoded from modified UTF-7 by imapclient."""
        with self._errors("folder list"):
            found = self.client.list_folders()
        names = [str(name) for flags, _, name in found if b"\\Noselect" not in flags]
        return sorted(names, key=lambda n: (n.upper() != "INBOX", n.casefold()))

    def uids_after(self, last_uid: int) -> list[int]:
        with self._errors("search"):
            uids = self.client.search(["UID", f"{last_uid + 1}:*"])
        # `n:*` always matches the highest UID, even one below n: filter.
        return sorted(int(uid) for uid in uids if int(uid) > last_uid)

    def sizes(self, uids: list[int]) -> dict[int, int]:
        """RFC822.SIZE of each UID still there (expunged ones are missing)."""
        if not uids:
            return {}
        with self._errors("size fetch"):
            found = self.client.fetch(uids, ["RFC822.SIZE"])
        return {int(uid): int(data.get(b"RFC822.SIZE", 0)) for uid, data in found.items()}

    def headers(self, uids: list[int]) -> dict[int, bytes]:
        """The header block of each UID, without setting \\Seen."""
        return self._fetch_part(uids, "BODY.PEEK[HEADER]", b"BODY[HEADER]")

    def bodies(self, uids: list[int]) -> dict[int, bytes]:
        """The whole raw mail of each UID, without setting \\Seen."""
        return self._fetch_part(uids, "BODY.PEEK[]", b"BODY[]")

    def body_part(self, uid: int, offset: int, length: int) -> bytes | None:
        """Up to `length` bytes of the raw mail from `offset` (`BODY.PEEK[]<offset.length>`,
        \\Seen untouched): fewer at the end, b"" past it, None when the UID is gone."""
        with self._errors("download"):
            found = self.client.fetch([uid], [f"BODY.PEEK[]<{offset}.{length}>"])
        if uid not in found:
            return None
        for key, value in found[uid].items():
            if isinstance(key, bytes) and key.startswith(b"BODY[]<"):
                return bytes(value) if isinstance(value, bytes) else b""
        raise mailbox_error(
            f"IMAP server {self.where} answered a partial FETCH of UID {uid} without the body",
            kind="protocol",
            permanent=False,
        )

    def _fetch_part(self, uids: list[int], item: str, key: bytes) -> dict[int, bytes]:
        if not uids:
            return {}
        with self._errors("download"):
            found = self.client.fetch(uids, [item])
        return {int(uid): bytes(data[key]) for uid, data in found.items() if key in data}

    def finish(self, uids: list[int], after_read: AfterRead) -> None:
        """Apply the account's after-read action; only after the publish was confirmed."""
        if not uids or after_read is AfterRead.LEAVE_UNREAD:
            return
        with self._errors("after-read action"):
            if after_read is AfterRead.MARK_READ:
                self.client.add_flags(uids, [SEEN])
                return
            self.client.delete_messages(uids)
            if self.client.has_capability("UIDPLUS"):
                self.client.uid_expunge(uids)
            else:
                self.client.expunge()

    def folder_counts(self, folder: str) -> tuple[int, int, int]:
        """(UIDVALIDITY, MESSAGES, UIDNEXT) of `folder` without selecting it."""
        with self._errors(f"status of folder {folder!r}"):
            status = self.client.folder_status(folder, [b"MESSAGES", b"UIDNEXT", b"UIDVALIDITY"])
        return int(status[b"UIDVALIDITY"]), int(status[b"MESSAGES"]), int(status[b"UIDNEXT"])

    # IDLE: the server tells us about new mail instead of us asking

    def supports_idle(self) -> bool:
        return bool(self.client.has_capability("IDLE"))

    def idle_start(self) -> None:
        with self._errors("IDLE"):
            self.client.idle()
        self._idling = True

    def idle_wait(self, timeout_s: float) -> IdleWake:
        """Block up to `timeout_s` for the server's IDLE responses."""
        started = time.monotonic()
        with self._errors("IDLE"):
            responses = self.client.idle_check(timeout=timeout_s)
        for response in responses:
            if len(response) > 1 and response[1] in (b"EXISTS", b"RECENT"):
                return IdleWake(new_mail=True, early=True)
            if response and response[0] == b"BYE":
                raise mailbox_error(
                    f"IMAP server {self.where} closed the connection: {response!r}",
                    kind="network",
                    permanent=False,
                )
        # imapclient swallows EOF during IDLE and returns nothing: an early, empty return
        # means "look", and the next command finds out whether the connection is alive.
        early = not responses and time.monotonic() - started < timeout_s * 0.9
        return IdleWake(new_mail=False, early=early)

    def idle_stop(self) -> None:
        if not self._idling:
            return
        self._idling = False
        with self._errors("IDLE done"):
            self.client.idle_done()

    def close(self) -> None:
        """Log out politely; never raises."""
        client, self._client = self._client, None
        if client is None:
            return
        with contextlib.suppress(IMAPClientError, OSError, ssl.SSLError):
            if self._idling:
                self._idling = False
                client.idle_done()
            client.logout()
        with contextlib.suppress(IMAPClientError, OSError, ssl.SSLError):
            client.shutdown()

    def abort(self) -> None:
        """Tear the socket down from another thread (a blocked call then returns with an
        error); for cancellation, when a polite logout could block."""
        client = self._client
        if client is None:
            return
        with contextlib.suppress(OSError, AttributeError, IMAPClientError):
            client.socket().shutdown(socket.SHUT_RDWR)


class ImapBody:
    """One mail read piece by piece with partial FETCHes (blocking, like the mailbox)."""

    def __init__(self, mailbox: ImapMailbox, uid: int, chunk_bytes: int) -> None:
        self._mailbox = mailbox
        self._uid = uid
        self._chunk = chunk_bytes
        self._offset = 0

    def read(self) -> bytes | None:
        """The next piece; b"" at the end, None when the mail was expunged meanwhile. Only
        an empty piece ends the mail: a server that answers short is asked again, never
        trusted to have said everything."""
        data = self._mailbox.body_part(self._uid, self._offset, self._chunk)
        if data is not None:
            self._offset += len(data)
        return data

    def discard(self) -> None:
        """Nothing to drain: every piece is a complete command."""


def _text(exc: BaseException) -> str:
    text = str(exc)
    if text.startswith(("b'", 'b"')):
        text = text[2:-1]
    return text.strip()
