"""SMTP command pipelining (RFC 2920): several commands in one write, then their replies.

Without it every command of a mail (MAIL, RCPT, DATA, the message) is its own send() and its
own wait for the server's answer; the profile of the replier ranked the socket writes of those
commands first. With a server that advertises PIPELINING, MAIL FROM, every RCPT TO and DATA go
out together, and the message follows once their replies are in: two writes and two waits per
mail instead of four or five.

aiosmtplib reads one reply per command and drops what arrives while no command waits (so that
stray data cannot be taken for the next command's reply). Replies to pipelined commands may
arrive in one segment or several, before or after the first one was picked up, so its protocol
would lose them. `PipeliningProtocol` adds one method, `exchange`, that collects every reply of
one batch as it arrives; everything else stays aiosmtplib's. `SmtpClient.connect` puts it in
place of the library's protocol (the only one the library constructs itself).
"""

import asyncio
import re

from aiosmtplib import (
    SMTPReadTimeoutError,
    SMTPResponse,
    SMTPResponseException,
    SMTPServerDisconnected,
    SMTPStatus,
)
from aiosmtplib.protocol import MAX_RESPONSE_LENGTH, SMTPProtocol

__all__ = ["PipeliningProtocol", "command_line", "message_payload"]

_LINE_ENDS = re.compile(rb"\r\n|\n|\r(?!\n)")
_LEADING_DOT = re.compile(rb"(?m)^\.")
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


def message_payload(data: bytes) -> tuple[bytes, int]:
    """What goes on the wire after the 354 (CRLF line ends, leading dots doubled, the final
    dot line) and the message's size for the SIZE parameter (RFC 1870: the octets before the
    dot stuffing, CRLF line ends counted)."""
    normalized = _LINE_ENDS.sub(b"\r\n", data)
    if not normalized.endswith(b"\r\n"):
        normalized += b"\r\n"
    return _LEADING_DOT.sub(b"..", normalized) + b".\r\n", len(normalized)


def command_line(*parts: bytes) -> bytes:
    """One command line; a part holding a line break or another control character would let
    an address smuggle a command of its own into the batch, so it is refused."""
    for part in parts:
        if _CONTROL.search(part):
            raise ValueError("an SMTP command argument contains a control character")
    return b" ".join(parts) + b"\r\n"


class PipeliningProtocol(SMTPProtocol):
    """aiosmtplib's protocol with `exchange`: one write, then a given number of replies."""

    _batch: list[SMTPResponse] | None = None  # the replies of the batch in flight
    _batch_error: BaseException | None = None
    _batch_wake: asyncio.Future[None] | None = None

    async def exchange(
        self, commands: bytes, replies: int, wait_s: float | None
    ) -> list[SMTPResponse]:
        """Write `commands` (pipelined command lines, or a message and its final dot) at once
        and return the server's next `replies` replies, in order. A lost connection raises
        `SMTPServerDisconnected`, a server too slow `SMTPReadTimeoutError`; after either the
        session is out of step and must be closed."""
        if self._command_lock is None:
            raise SMTPServerDisconnected("Server not connected")
        async with self._command_lock:
            del self._buffer[:]  # a stray partial line from before belongs to no command here
            batch: list[SMTPResponse] = []
            self._batch, self._batch_error = batch, None
            try:
                self.write(commands)
                async with asyncio.timeout(wait_s):
                    while len(batch) < replies:
                        self._raise_failure(batch)
                        self._batch_wake = self._loop.create_future()
                        await self._batch_wake
            except TimeoutError as exc:
                raise SMTPReadTimeoutError("Timed out waiting for server response") from exc
            finally:
                self._batch = self._batch_wake = self._batch_error = None
            # more replies than commands is a server out of step; like aiosmtplib, ignore them
            return batch[:replies]

    def data_received(self, data: bytes) -> None:
        if self._batch is None:
            super().data_received(data)
            return
        self._buffer.extend(data)
        try:
            while (response := self._read_response_from_buffer()) is not None:
                self._batch.append(response)
        except Exception as exc:  # a malformed reply line
            del self._buffer[:]
            self._fail(exc)
            return
        if len(self._buffer) > MAX_RESPONSE_LENGTH:  # a partial reply that never ends
            del self._buffer[:]
            self._fail(
                SMTPResponseException(SMTPStatus.invalid_response.value, "Response too long")
            )
            return
        self._wake()

    def eof_received(self) -> bool:
        self._fail(SMTPServerDisconnected("Unexpected EOF received"))
        return super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        lost = SMTPServerDisconnected("Connection lost")
        lost.__cause__ = exc
        self._fail(lost)
        super().connection_lost(exc)

    def _raise_failure(self, batch: list[SMTPResponse]) -> None:
        # a method, so that the checker sees the field change while the batch was awaited
        if self._batch_error is None:
            return
        if batch and batch[-1].code == SMTPStatus.domain_unavailable:
            # 421, then the server hung up: its reason is the one to report
            raise SMTPResponseException(batch[-1].code, batch[-1].message)
        raise self._batch_error

    def _fail(self, exc: BaseException) -> None:
        if self._batch is not None and self._batch_error is None:
            self._batch_error = exc
            self._wake()

    def _wake(self) -> None:
        if self._batch_wake is not None and not self._batch_wake.done():
            self._batch_wake.set_result(None)
