"""Sending through SMTP with aiosmtplib, with failures sorted into transient and permanent.

4xx answers and network trouble are `TransientError` (the event is retried, bounded by the
queue's delivery limit); 5xx answers, failed certificate checks, a server that does not offer the
STARTTLS or AUTH the settings ask for, and rejected credentials are `PermanentError` (recorded,
never retried: they are configuration, and retrying cannot fix them).

Each step of the session is explicit (connect, EHLO, STARTTLS, AUTH, send) instead of
aiosmtplib's "upgrade if offered": security "none" never upgrades, "starttls" never falls back
to plain text, so what the admin chose is what happens (docs/features.md F1: no silent downgrade).
"""

import asyncio
import contextlib
import random
import ssl
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiosmtplib
from aiosmtplib import SMTPResponse, SMTPStatus
from aiosmtplib.email import quote_address
from aiosmtplib.protocol import SMTPProtocol

from postroom_replier.adapters.smtp_pipelining import (
    PipeliningProtocol,
    command_line,
    message_payload,
)
from postroom_replier.domain.wire import OutboundMail
from postroom_shared.errors import PermanentError, TransientError
from postroom_shared.models import Security, SmtpAuth

__all__ = [
    "SmtpClient",
    "SmtpTarget",
    "TokenGetter",
    "classified",
    "open_session",
    "send_message",
    "send_pipelined",
    "send_with_retry",
    "transact",
]

TokenGetter = Callable[[bool], Awaitable[str]]
"""An XOAUTH2 access token; `True` asks for a fresh one (the cached one was refused)."""


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    security: Security
    verify_tls: bool = True
    username: str | None = None
    password: str | None = None
    timeout_s: float = 30.0
    auth: SmtpAuth | None = None  # None: password when a username is set, else none
    token: TokenGetter | None = None  # for auth = xoauth2

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def auth_mode(self) -> SmtpAuth:
        if self.auth is not None:
            return self.auth
        return "password" if self.username else "none"


def _classify(code: int, text: str) -> Exception:
    detail = f"SMTP {code} {text}".strip()
    return TransientError(detail) if 400 <= code < 500 else PermanentError(detail)


def _tls_context(verify_tls: bool) -> ssl.SSLContext:
    # per session, not cached: a certificate the admin just installed in the system trust
    # store counts from the next session on (sessions are pooled, so this is rare)
    context = ssl.create_default_context()
    if not verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _ssl_cause(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _tls_failure(target: SmtpTarget, cause: ssl.SSLError) -> Exception:
    if isinstance(cause, ssl.SSLCertVerificationError):
        return PermanentError(
            f"TLS with {target.where}: the server's certificate is not trusted"
            f" ({cause.verify_message or cause.reason}); install a trusted certificate on the"
            " server or turn certificate verification off (verify_tls: false)"
        )
    if isinstance(cause, ssl.SSLEOFError):  # the connection dropped mid-handshake
        return TransientError(f"TLS with {target.where} was cut off: {cause}")
    return PermanentError(
        f"TLS with {target.where} failed ({cause.reason or cause}); check the security"
        f" setting ({target.security.value}) against what the server speaks on this port"
    )


async def _authenticate(client: aiosmtplib.SMTP, target: SmtpTarget) -> None:
    mode = target.auth_mode
    if mode == "none":
        return
    if not target.username:
        raise PermanentError(f"SMTP auth {mode} needs a username")
    offered = client.server_auth_methods
    if mode == "password":
        if not offered:
            raise PermanentError(
                f"{target.where} offers no AUTH (some servers offer it only after STARTTLS);"
                " cannot log in"
                f" as {target.username}"
            )
        try:
            await client.login(target.username, target.password or "")
        except aiosmtplib.SMTPResponseException:
            raise  # the server's answer (535, 454 ...) is classified by its code
        except aiosmtplib.SMTPException as exc:  # e.g. no mechanism both sides know
            raise PermanentError(
                f"{target.where}: password login impossible ({exc}); it offers {', '.join(offered)}"
            ) from exc
        return
    if target.token is None:
        raise PermanentError("SMTP auth xoauth2 is set, but no OAuth token source is configured")
    if "xoauth2" not in offered:
        raise PermanentError(
            f"{target.where} does not offer AUTH XOAUTH2 (offers: {', '.join(offered) or 'none'})"
        )
    try:
        await client.auth_xoauth2(target.username, await target.token(False))
    except aiosmtplib.SMTPAuthenticationError:
        # a cached token the server no longer accepts (revoked, clock skew): one fresh try
        await client.auth_xoauth2(target.username, await target.token(True))


class SmtpClient(aiosmtplib.SMTP):
    """An aiosmtplib client that remembers whether a mail's DATA was begun on it: from then on
    the server may have the mail, so a failure must not lead to sending it again on another
    connection (`smtp_pool.py`); and whether the server is ready for the next mail, so that a
    pooled session needs no RSET before it (RFC 5321 4.1.1.4: the end of the data resets the
    server's state). It speaks pipelined commands (`smtp_pipelining.py`)."""

    data_begun = False
    ready = False  # no transaction open: the last one ended, or was reset
    mails = 0  # transactions completed on this session
    opened_at = 0.0  # the event loop's clock

    async def connect(self, *args: Any, **kwargs: Any) -> SMTPResponse:
        response = await super().connect(*args, **kwargs)
        if type(self.protocol) is SMTPProtocol:  # same state, one method more
            self.protocol.__class__ = PipeliningProtocol
        self.ready = True
        return response

    async def data(self, message: str | bytes, /, **options: Any) -> SMTPResponse:
        self.data_begun = True
        return await super().data(message, **options)


async def open_session(target: SmtpTarget) -> SmtpClient:
    """A connected, greeted, secured and authenticated session, ready for mail."""
    client = SmtpClient(
        hostname=target.host,
        port=target.port,
        use_tls=target.security is Security.TLS,
        start_tls=False,  # never the library's opportunistic upgrade; see below
        # loading the system trust store is the dearest step of a plain session: skipped there
        tls_context=_tls_context(target.verify_tls)
        if target.security is not Security.NONE
        else None,
        timeout=target.timeout_s,
    )
    await client.connect()
    client.opened_at = asyncio.get_running_loop().time()
    try:
        await client.ehlo()
        if target.security is Security.STARTTLS:
            if not client.supports_extension("starttls"):
                raise PermanentError(
                    f"{target.where} does not offer STARTTLS, and the SMTP settings require it;"
                    " Postroom does not send in plain text instead. Use security 'tls' for"
                    " implicit TLS, or 'none' if this server really has no TLS"
                )
            await client.starttls()
            await client.ehlo()
        await _authenticate(client, target)
    except BaseException:
        client.close()
        raise
    return client


async def transact(client: SmtpClient, message: OutboundMail) -> str:
    """One mail transaction on an open session; the server's final answer. The message is
    7-bit clean unless an address is not ASCII: then the server must offer SMTPUTF8. With a
    server that offers PIPELINING the envelope and DATA go out in one write (`send_pipelined`);
    otherwise one command at a time, as aiosmtplib sends them."""
    client.data_begun = False
    options = []
    if message.utf8:
        if not client.supports_extension("smtputf8"):
            raise aiosmtplib.SMTPNotSupported(
                f"{message.recipient}: a non-ASCII address needs SMTPUTF8, which the server"
                " does not offer"
            )
        options.append("SMTPUTF8")
    if client.supports_extension("8bitmime"):
        options.append("BODY=8BITMIME")
    client.ready = False  # until the transaction is over, or reset
    if client.supports_extension("pipelining") and isinstance(client.protocol, PipeliningProtocol):
        _, response = await send_pipelined(
            client, message.sender, [message.recipient], message.data, options, utf8=message.utf8
        )
        return response
    _, response = await client.sendmail(
        message.sender, [message.recipient], message.data, mail_options=options
    )
    client.ready = True
    return response


async def send_pipelined(
    client: SmtpClient,
    sender: str,
    recipients: list[str],
    data: bytes,
    options: list[str],
    *,
    utf8: bool,
) -> tuple[dict[str, SMTPResponse], str]:
    """MAIL FROM, every RCPT TO and DATA in one write, their replies, then the message and its
    answer (RFC 2920); the refused recipients and the final answer, like aiosmtplib's
    `sendmail`, which raises the same errors for the same answers.

    The message follows only a 354 to DATA after an accepted sender and at least one accepted
    recipient. A server that says 354 without them would take the message for no one (or for
    whom it likes): the connection is closed instead, which ends the transaction without a
    mail. A refusal before the message leaves the session ready for the next mail after an
    RSET (when MAIL was accepted, the transaction is still open); after the message, the
    server's state is reset whatever it answered."""
    encoding = "utf-8" if utf8 else "ascii"
    payload, size = message_payload(data)
    if client.supports_extension("size"):
        options = [f"SIZE={size}", *options]
    lines = [
        command_line(
            b"MAIL",
            b"FROM:" + quote_address(sender).encode(encoding),
            *(option.encode("ascii") for option in options),
        ),
        *(command_line(b"RCPT", b"TO:" + quote_address(to).encode(encoding)) for to in recipients),
        b"DATA\r\n",
    ]
    mail, *rcpts, begin = await _exchange(client, b"".join(lines), len(lines))
    for reply in (mail, *rcpts, begin):
        if reply.code == SMTPStatus.domain_unavailable:  # 421: the server is closing the session
            client.close()
            raise aiosmtplib.SMTPResponseException(reply.code, reply.message)
    refused = {
        to: reply
        for to, reply in zip(recipients, rcpts, strict=True)
        if reply.code not in (SMTPStatus.completed, SMTPStatus.will_forward)
    }
    accepted = mail.code == SMTPStatus.completed and len(refused) < len(recipients)
    if begin.code != SMTPStatus.start_input or not accepted:
        if begin.code == SMTPStatus.start_input:
            client.close()  # waiting for a message that must not be sent
        elif mail.code == SMTPStatus.completed:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                await client.rset()
                client.ready = True
        else:
            client.ready = True  # no transaction was opened
        if mail.code != SMTPStatus.completed:
            raise aiosmtplib.SMTPSenderRefused(mail.code, mail.message, sender)
        if not accepted:
            raise aiosmtplib.SMTPRecipientsRefused(
                [
                    aiosmtplib.SMTPRecipientRefused(r.code, r.message, to)
                    for to, r in refused.items()
                ]
            )
        raise aiosmtplib.SMTPDataError(begin.code, begin.message)
    client.data_begun = True
    [done] = await _exchange(client, payload, 1)
    client.ready = True
    if done.code != SMTPStatus.completed:
        raise aiosmtplib.SMTPDataError(done.code, done.message)
    return refused, done.message


async def _exchange(client: SmtpClient, commands: bytes, replies: int) -> list[SMTPResponse]:
    protocol = client.protocol
    if not isinstance(protocol, PipeliningProtocol):
        raise aiosmtplib.SMTPServerDisconnected("Server not connected")
    try:
        return await protocol.exchange(commands, replies, client.timeout)
    except BaseException:
        client.close()  # lost, too slow or cancelled midway: out of step with the server
        raise


@contextlib.contextmanager
def classified(target: SmtpTarget) -> Iterator[None]:
    """Library and network errors inside as `PermanentError` or `TransientError`."""
    try:
        yield
    except (PermanentError, TransientError):
        raise
    except aiosmtplib.SMTPRecipientsRefused as exc:
        first = exc.recipients[0]
        raise _classify(first.code, first.message) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise _classify(exc.code, exc.message) from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        cause = _ssl_cause(exc)
        if cause is not None:
            raise _tls_failure(target, cause) from exc
        raise TransientError(f"SMTP connection to {target.where} failed: {exc!r}") from exc


async def send_message(message: OutboundMail, target: SmtpTarget) -> str:
    """Send `message` on a connection of its own; returns the server's final answer."""
    with classified(target):
        client = await open_session(target)
        try:
            response = await transact(client, message)
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.quit()  # a polite end; the mail is accepted either way
            return response
        finally:
            client.close()


async def send_with_retry(
    message: OutboundMail,
    target: SmtpTarget,
    *,
    deadline_s: float,
    first_delay_s: float = 1.0,
    send: Callable[[OutboundMail, SmtpTarget], Awaitable[str]] = send_message,
) -> str:
    """`send_message`, retrying transient failures with exponential backoff and jitter until
    `deadline_s` has passed; the last TransientError is raised then (the event is requeued).
    Permanent failures are raised at once: a 5xx never turns into a retry storm. `send` is
    `send_message` or a pool's (`smtp_pool.SmtpPool.send`)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    delay = first_delay_s
    while True:
        try:
            return await send(message, target)
        except TransientError:
            if loop.time() + delay > end:
                raise
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, 30.0)
