"""Pipelined SMTP (`adapters/smtp_pipelining.py`, `smtp.send_pipelined`): on the stack's
Postfix, and on a small SMTP server of this test that answers what each case needs (Postfix
cannot be made to refuse a sender, to say 354 to a mail nobody may receive, or to hang up at a
chosen step). Each case checks what the server received: a mail once, or no message at all."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiosmtplib
import pytest

from postroom_replier.adapters.smtp import SmtpTarget, open_session, send_pipelined, transact
from postroom_replier.adapters.smtp_pipelining import PipeliningProtocol
from postroom_replier.adapters.smtp_pool import SmtpPool
from postroom_replier.domain.compose import OutboundMail, compose_test_mail
from postroom_shared.errors import PermanentError, TransientError
from postroom_shared.models import Security
from tests.fetcher_proc import copies_in_inbox
from tests.stack_env import StackEnv

_OK = "250 2.1.0 Ok"


def _mail(tag: str, recipient: str = "customer@example.test") -> tuple[OutboundMail, str]:
    message_id = f"<pipe-{tag}-{uuid.uuid4().hex[:8]}@example.test>"
    mail = compose_test_mail(
        sender="support@example.test",
        recipient=recipient,
        message_id=message_id,
        instance=f"pipelining {tag}",
    )
    return mail, message_id


@dataclass
class _Scripted:
    """An SMTP server over a real socket that answers from a script: `mail` and `data` replies
    are taken in turn (then 250 / 354), `rcpt` answers every recipient. It answers MAIL and RCPT
    only once DATA arrived, so a client that waits for each answer before the next command
    hangs: what it receives proves the commands were pipelined. `split` sends each reply on its
    own, a little apart; `hang_up_after_message` takes a message and closes unanswered."""

    mail: list[str] = field(default_factory=list)
    rcpt: str = "250 2.1.5 Ok"
    data: list[str] = field(default_factory=list)
    split: bool = False
    hang_up_after_message: bool = False
    sessions: int = 0
    commands: list[str] = field(default_factory=list)
    messages: list[bytes] = field(default_factory=list)
    after_refused_354: list[bytes] = field(default_factory=list)  # what came after a bad 354

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.sessions += 1
        try:
            await self._session(reader, writer)
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 scripted ESMTP\r\n")
        held: list[str] = []
        envelope_ok = False
        while line := await reader.readline():
            command = line.decode().strip()
            verb = command.split(" ", 1)[0].upper()
            self.commands.append(verb)
            if verb == "EHLO":
                reply = "250-scripted\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME"
            elif verb == "MAIL":
                reply = self.mail.pop(0) if self.mail else _OK
                envelope_ok = reply.startswith("250")
            elif verb == "RCPT":
                reply = self.rcpt
                envelope_ok = envelope_ok and reply.startswith("25")
            elif verb == "DATA":
                reply = self.data.pop(0) if self.data else "354 End data with <CR><LF>.<CR><LF>"
            elif verb == "QUIT":
                reply = "221 2.0.0 Bye"
            else:
                reply = "250 2.0.0 Ok"
            held.append(reply)
            if verb in ("MAIL", "RCPT") and not reply.startswith("421"):
                continue  # answered together with DATA
            for answer in held:
                writer.write(answer.encode() + b"\r\n")
                if self.split:
                    await writer.drain()
                    await asyncio.sleep(0.02)
            held.clear()
            await writer.drain()
            if reply.startswith("421") or verb == "QUIT":
                return
            if verb == "DATA" and reply.startswith("354"):
                message = await _message(reader)
                if not envelope_ok:  # this server is wrong to say 354; the client must not send
                    self.after_refused_354.append(message)
                    return
                self.messages.append(message)
                if self.hang_up_after_message:
                    return
                writer.write(b"250 2.0.0 Ok: queued as SCRIPTED\r\n")
                envelope_ok = False


async def _message(reader: asyncio.StreamReader) -> bytes:
    lines = []
    while line := await reader.readline():
        if line == b".\r\n":
            break
        lines.append(line)
    return b"".join(lines)


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[_Scripted, SmtpTarget]]:
    server = _Scripted()
    listening = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    target = SmtpTarget(host="127.0.0.1", port=port, security=Security.NONE, timeout_s=5)
    async with listening:
        yield server, target
        listening.close()


async def test_the_envelope_goes_in_one_write_and_no_rset_between_mails(
    scripted: tuple[_Scripted, SmtpTarget],
) -> None:
    server, target = scripted
    pool = SmtpPool(idle_s=30)
    try:
        for n in range(3):
            assert "SCRIPTED" in await pool.send(_mail(f"one-write{n}")[0], target)
    finally:
        await pool.aclose()
    assert server.sessions == 1 and len(server.messages) == 3
    assert server.commands == ["EHLO", *["MAIL", "RCPT", "DATA"] * 3, "QUIT"]
    assert b"pipelining one-write0" in server.messages[0]


async def test_replies_arriving_apart_are_all_read(
    scripted: tuple[_Scripted, SmtpTarget],
) -> None:
    server, target = scripted
    server.split = True
    pool = SmtpPool(idle_s=30)
    try:
        await pool.send(_mail("apart1")[0], target)
        await pool.send(_mail("apart2")[0], target)
    finally:
        await pool.aclose()
    assert len(server.messages) == 2 and server.sessions == 1


@pytest.mark.parametrize(
    ("mail", "rcpt", "data", "error"),
    [
        ("550 5.7.1 sender refused", "503 5.5.1 need MAIL", "503 5.5.1 need RCPT", PermanentError),
        ("451 4.3.0 try later", "503 5.5.1 need MAIL", "503 5.5.1 need RCPT", TransientError),
        (_OK, "550 5.1.1 unknown user", "554 5.5.1 no valid recipients", PermanentError),
        (_OK, "450 4.2.0 greylisted", "554 5.5.1 no valid recipients", TransientError),
        (_OK, "250 2.1.5 Ok", "451 4.3.0 DATA not now", TransientError),
    ],
)
async def test_a_refusal_before_the_message_sends_nothing_and_keeps_the_session(
    scripted: tuple[_Scripted, SmtpTarget],
    mail: str,
    rcpt: str,
    data: str,
    error: type[Exception],
) -> None:
    """Refused at MAIL, at RCPT or at DATA: no message, the error by the reply's class, an RSET
    only where MAIL opened a transaction, and the session serves the next mail."""
    server, target = scripted
    server.mail, server.rcpt, server.data = [mail], rcpt, [data]
    first_refusal = next(r for r in (mail, rcpt, data) if not r.startswith("250"))
    pool = SmtpPool(idle_s=30)
    try:
        with pytest.raises(error, match=f"SMTP {first_refusal}"):
            await pool.send(_mail("refused")[0], target)
        assert server.messages == []
        server.rcpt = "250 2.1.5 Ok"
        await pool.send(_mail("next")[0], target)
    finally:
        await pool.aclose()
    assert server.sessions == 1 and len(server.messages) == 1
    reset = ["RSET"] if mail.startswith("250") else []
    assert server.commands == [
        "EHLO",
        "MAIL",
        "RCPT",
        "DATA",
        *reset,
        "MAIL",
        "RCPT",
        "DATA",
        "QUIT",
    ]


@pytest.mark.parametrize("mail", ["550 5.7.1 sender refused", _OK])
async def test_a_354_for_a_mail_without_sender_or_recipient_gets_no_message(
    scripted: tuple[_Scripted, SmtpTarget], mail: str
) -> None:
    """A server that invites the message although it refused the sender or every recipient
    would take it for no one or anyone: the client hangs up instead of sending it."""
    server, target = scripted
    server.mail, server.rcpt = [mail], "550 5.1.1 unknown user"
    pool = SmtpPool(idle_s=30)
    try:
        with pytest.raises(PermanentError, match="550"):
            await pool.send(_mail("bad354")[0], target)
        for _ in range(50):
            if server.after_refused_354:
                break
            await asyncio.sleep(0.02)
    finally:
        await pool.aclose()
    assert server.after_refused_354 == [b""] and server.messages == []
    assert server.commands == ["EHLO", "MAIL", "RCPT", "DATA"]  # and the line closed, no RSET


async def test_a_pooled_session_answering_421_is_replaced_and_the_mail_sent_once(
    scripted: tuple[_Scripted, SmtpTarget],
) -> None:
    server, target = scripted
    pool = SmtpPool(idle_s=30)
    try:
        await pool.send(_mail("first")[0], target)
        server.mail = ["421 4.3.2 shutting down"]
        await pool.send(_mail("second")[0], target)
    finally:
        await pool.aclose()
    assert pool.opened == 2 and server.sessions == 2 and len(server.messages) == 2


async def test_a_session_lost_after_the_message_is_not_sent_again(
    scripted: tuple[_Scripted, SmtpTarget],
) -> None:
    server, target = scripted
    server.hang_up_after_message = True
    pool = SmtpPool(idle_s=30)
    try:
        with pytest.raises(TransientError):
            await pool.send(_mail("lost")[0], target)
    finally:
        await pool.aclose()
    assert server.sessions == 1 and len(server.messages) == 1


# on the stack's Postfix ---------------------------------------------------------------------


def _target(stack: StackEnv) -> SmtpTarget:
    return SmtpTarget(host="127.0.0.1", port=stack.smtp_port, security=Security.NONE, timeout_s=5)


async def _arrived(stack: StackEnv, message_id: str) -> int:
    for _ in range(100):
        if copies_in_inbox(stack, message_id):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)  # a second copy would be on its way by now
    return copies_in_inbox(stack, message_id)


@pytest.mark.stack
async def test_postfix_takes_pipelined_mail_and_refuses_unknown_recipients(
    stack: StackEnv,
) -> None:
    """Postfix offers PIPELINING: a mail for a known and an unknown user goes to the known one
    (the unknown one reported refused); a mail for unknown users only is refused (its DATA
    answered 554) and leaves the session ready for the next."""
    client = await open_session(_target(stack))
    try:
        assert client.supports_extension("pipelining")
        assert isinstance(client.protocol, PipeliningProtocol)
        both, both_id = _mail("both")
        refused, answer = await send_pipelined(
            client,
            both.sender,
            ["nobody@example.test", both.recipient],
            both.data,
            [],
            utf8=False,
        )
        assert answer.startswith("2.0.0") and list(refused) == ["nobody@example.test"]
        assert refused["nobody@example.test"].code == 550

        lost, _ = _mail("nobody", recipient="nobody@example.test")
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as raised:
            await transact(client, lost)
        assert [(r.code, r.recipient) for r in raised.value.recipients] == [
            (550, "nobody@example.test")
        ]
        assert client.ready and client.is_connected

        after, after_id = _mail("after")
        assert (await transact(client, after)).startswith("2.0.0")
    finally:
        with contextlib.suppress(Exception):
            await client.quit()
        client.close()
    assert await _arrived(stack, both_id) == 1
    assert await _arrived(stack, after_id) == 1
