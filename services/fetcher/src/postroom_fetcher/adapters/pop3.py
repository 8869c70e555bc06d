"""POP3 with poplib (plain, STARTTLS via STLS, implicit TLS). Every method blocks: the fetcher
runs them on the account's own worker thread.

Deletions (DELE) take effect only at QUIT; a session that ends any other way deletes nothing
(RFC 1939), which is what makes "publish, record the UIDL, delete" safe to interrupt.
"""

import contextlib
import poplib
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

from postroom_fetcher.adapters.connection import MailboxConnection
from postroom_fetcher.domain.errors import MailboxError, classify_response, mailbox_error
from postroom_shared.models import Security

__all__ = ["Pop3Body", "Pop3Mailbox", "Pop3Message"]

# poplib refuses lines over 2,048 bytes, but real mail has longer ones (unwrapped HTML);
# the account's size limit bounds a mail, and so its lines, anyway.
_MAX_LINE = 64 * 1024 * 1024


@dataclass(frozen=True)
class Pop3Message:
    number: int
    uidl: str
    size: int


class Pop3Mailbox(MailboxConnection):
    """One logged-in POP3 session."""

    _pop: poplib.POP3 | None = None

    @property
    def pop(self) -> poplib.POP3:
        if self._pop is None:
            raise RuntimeError("not connected")
        return self._pop

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except MailboxError:
            raise
        except ssl.SSLError as exc:
            raise mailbox_error(
                f"TLS failure talking to {self.where} ({doing}): {exc}", kind="tls", permanent=True
            ) from exc
        except poplib.error_proto as exc:
            text = _text(exc)
            found = classify_response(text)
            kind = found.kind
            if doing == "login" and kind == "protocol":
                kind = "auth"
            hint = f"; {found.hint}" if found.hint else ""
            raise mailbox_error(
                f"POP3 {doing} of {self._credentials.username} at {self.where} failed:"
                f" {text}{hint}",
                kind=kind,
                permanent=kind in ("auth", "tls", "consent_revoked"),
            ) from exc
        except (TimeoutError, OSError, EOFError) as exc:
            raise mailbox_error(
                f"cannot reach POP3 server {self.where} ({doing}): {exc!r}",
                kind="network",
                permanent=False,
            ) from exc

    def connect(self) -> None:
        s = self._settings
        if self._credentials.mechanism != "password":
            raise mailbox_error("POP3 accounts log in with a password", kind="auth", permanent=True)
        context = self._tls_context()
        poplib._MAXLINE = max(poplib._MAXLINE, _MAX_LINE)  # type: ignore[attr-defined]
        with self._errors("connect"):
            if s.security is Security.TLS:
                self._pop = poplib.POP3_SSL(s.host, s.port, timeout=self._timeout, context=context)
            else:
                self._pop = poplib.POP3(s.host, s.port, timeout=self._timeout)
            if s.security is Security.STARTTLS:
                if "STLS" not in self._capabilities():
                    raise mailbox_error(
                        f"POP3 server {self.where} does not offer STARTTLS (STLS); Postroom"
                        " will not log in without TLS (choose security 'tls' for a POP3S port)",
                        kind="tls",
                        permanent=True,
                    )
                self._pop.stls(context)
        with self._errors("login"):
            self.pop.user(self._credentials.username)
            self.pop.pass_(self._credentials.secret)

    def _capabilities(self) -> dict[str, list[str]]:
        try:
            return self.pop.capa()
        except poplib.error_proto:
            return {}

    def listing(self) -> list[Pop3Message]:
        """Every message: number, UIDL and size (from UIDL and LIST)."""
        with self._errors("listing"):
            _, uid_lines, _ = self.pop.uidl()
            _, size_lines, _ = self.pop.list()
        uidls = dict(_pair(line) for line in uid_lines)
        sizes = {number: int(size) for number, size in map(_pair, size_lines)}
        return [
            Pop3Message(number=number, uidl=uidl, size=sizes.get(number, 0))
            for number, uidl in sorted(uidls.items())
        ]

    def retrieve(self, number: int) -> bytes:
        with self._errors("download"):
            _, lines, _ = self.pop.retr(number)
        return b"\r\n".join(lines) + b"\r\n"

    def open_body(self, number: int, chunk_bytes: int) -> "Pop3Body":
        """Send RETR and read its status line; the message follows through `Pop3Body.read`,
        piece by piece, instead of poplib's list of every line."""
        with self._errors("download"):
            self.pop.sock.sendall(f"RETR {number}\r\n".encode("ascii"))
            status = self.pop.file.readline(_MAX_LINE)
            if not status:
                raise EOFError("connection closed before the message")
            if not status.startswith(b"+"):
                raise poplib.error_proto(status.rstrip(b"\r\n"))
        return Pop3Body(self, chunk_bytes)

    def headers(self, number: int) -> bytes:
        """The header block only (TOP n 0), for mail over the size limit."""
        with self._errors("header download"):
            _, lines, _ = self.pop.top(number, 0)
        return b"\r\n".join(lines).rstrip(b"\r\n") + b"\r\n\r\n"

    def delete(self, numbers: list[int]) -> None:
        """Mark for deletion; effective at `quit`."""
        with self._errors("delete"):
            for number in numbers:
                self.pop.dele(number)

    def reading(self) -> contextlib.AbstractContextManager[None]:
        """Failures while a body is read, named like every other failure of the session."""
        return self._errors("download")

    def count(self) -> int:
        with self._errors("status"):
            messages, _ = self.pop.stat()
        return int(messages)

    def quit(self) -> None:
        """End the session and commit the deletions."""
        pop, self._pop = self._pop, None
        if pop is None:
            return
        with self._errors("quit"):
            pop.quit()

    def close(self) -> None:
        """Drop the session without committing anything; never raises."""
        pop, self._pop = self._pop, None
        if pop is not None:
            with contextlib.suppress(OSError, poplib.error_proto):
                pop.close()

    def abort(self) -> None:
        pop = self._pop
        if pop is not None and pop.sock is not None:
            with contextlib.suppress(OSError):
                pop.sock.shutdown(2)


class Pop3Body:
    """The multi-line answer to RETR, read in pieces of about `chunk_bytes` (blocking). Lines
    keep their CRLF; the byte-stuffing dot is removed; the lone "." ends the message."""

    def __init__(self, mailbox: Pop3Mailbox, chunk_bytes: int) -> None:
        self._mailbox = mailbox
        self._chunk = chunk_bytes
        self._line_start = True
        self._done = False

    def read(self) -> bytes | None:
        """The next piece; b"" once the message ended (never None: POP3 numbers are fixed
        for the session, nothing vanishes)."""
        out = bytearray()
        with self._mailbox.reading():
            file = self._mailbox.pop.file
            while not self._done and len(out) < self._chunk:
                # a line longer than a piece comes in several pieces; only a piece that
                # starts a line can be the terminator or carry the stuffed dot
                piece = file.readline(self._chunk)
                if not piece:
                    raise EOFError("connection closed in the middle of a message")
                if self._line_start and piece in (b".\r\n", b".\n"):
                    self._done = True
                    break
                if self._line_start and piece.startswith(b".."):
                    piece = piece[1:]
                self._line_start = piece.endswith(b"\n")
                out += piece
        return bytes(out)

    def discard(self) -> None:
        """Read the rest of the message unused, so the session can go on."""
        while self.read():
            pass


def _pair(line: bytes) -> tuple[int, str]:
    number, _, value = line.decode("ascii", "replace").strip().partition(" ")
    return int(number), value.strip()


def _text(exc: BaseException) -> str:
    arg = exc.args[0] if exc.args else exc
    text = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)
    return text.strip()
