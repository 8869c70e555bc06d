"""The pooled SMTP sessions (`adapters/smtp_pool.py`) on the stack's Postfix: one session for
many mails, a session the server dropped replaced without a lost or doubled mail, idle sessions
closed, another target its own session; and on a server that drops the line after DATA, no
second copy."""

import asyncio
import imaplib
import os
import signal
import socket
import subprocess
import uuid
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import Envelope, Session

from postroom_replier.adapters.smtp import SmtpTarget
from postroom_replier.adapters.smtp_pool import SmtpPool
from postroom_replier.domain.compose import OutboundMail, compose_test_mail
from postroom_shared.errors import TransientError
from postroom_shared.models import Security
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack


def _mail(tag: str) -> tuple[OutboundMail, str]:
    message_id = f"<pool-{tag}-{uuid.uuid4().hex[:8]}@example.test>"
    mail = compose_test_mail(
        sender="support@example.test",
        recipient="customer@example.test",
        message_id=message_id,
        instance=f"pool {tag}",
    )
    return mail, message_id


def _target(stack: StackEnv, host: str = "127.0.0.1") -> SmtpTarget:
    return SmtpTarget(host=host, port=stack.smtp_port, security=Security.NONE, timeout_s=5)


def _postfix_sessions(stack: StackEnv) -> list[int]:
    """The pids of the Postfix smtpd processes holding a client connection right now."""
    out = subprocess.run(
        ["ss", "-Htnp", "state", "established", f"( sport = :{stack.smtp_port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [int(part.split(",")[0]) for part in out.split("pid=")[1:]]


async def _copies(stack: StackEnv, message_ids: list[str]) -> dict[str, int]:
    """How often each Message-ID is in the customer's INBOX, once all arrived (10 s at most)."""

    def count() -> dict[str, int]:
        with imaplib.IMAP4("127.0.0.1", stack.imap_port) as imap:
            imap.login("customer", "customer")
            imap.select("INBOX", readonly=True)
            found = {}
            for message_id in message_ids:
                _, hits = imap.search(None, "HEADER", "Message-ID", message_id)
                found[message_id] = len(hits[0].split())
            return found

    for _ in range(100):
        if all(count().values()):
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # a second copy would be on its way by now
    return count()


async def test_many_mails_share_one_session(stack: StackEnv) -> None:
    pool = SmtpPool(idle_s=30)
    sent = []
    try:
        for n in range(5):
            mail, message_id = _mail(f"share{n}")
            assert (await pool.send(mail, _target(stack))).startswith("2.0.0")
            sent.append(message_id)
        assert pool.opened == 1
        assert len(_postfix_sessions(stack)) == 1  # still open for the next mail
    finally:
        await pool.aclose()
    assert await _copies(stack, sent) == dict.fromkeys(sent, 1)


async def test_a_session_the_server_dropped_is_replaced_without_loss_or_copy(
    stack: StackEnv,
) -> None:
    """Postfix's smtpd dies (a restart, its idle timeout) while the session waits in the pool:
    the next mail goes out once, on a new session."""
    pool = SmtpPool(idle_s=30)
    try:
        first, first_id = _mail("before")
        await pool.send(first, _target(stack))
        for pid in _postfix_sessions(stack):
            os.kill(pid, signal.SIGKILL)
        for _ in range(50):
            if not _postfix_sessions(stack):
                break
            await asyncio.sleep(0.1)
        second, second_id = _mail("after")
        await pool.send(second, _target(stack))
        assert pool.opened == 2
    finally:
        await pool.aclose()
    assert await _copies(stack, [first_id, second_id]) == {first_id: 1, second_id: 1}


async def test_idle_sessions_are_closed_and_another_target_gets_its_own(
    stack: StackEnv,
) -> None:
    pool = SmtpPool(idle_s=0.5)
    try:
        await pool.send(_mail("a")[0], _target(stack))
        await pool.send(_mail("b")[0], _target(stack, host="localhost"))  # settings changed
        assert pool.opened == 2
        for _ in range(30):
            if not _postfix_sessions(stack):
                break
            await asyncio.sleep(0.1)
        assert _postfix_sessions(stack) == []  # both quit after half a second unused
        await pool.send(_mail("c")[0], _target(stack))
        assert pool.opened == 3
    finally:
        await pool.aclose()


class _DropsAfterData:
    """Accepts the first mail; from the second on, takes the mail and hangs up unanswered."""

    def __init__(self) -> None:
        self.received = 0

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        self.received += 1
        if self.received > 1:
            assert server.transport is not None
            server.transport.close()
        return "250 2.0.0 Ok"


@pytest.fixture
def dropping_server() -> Iterator[tuple[_DropsAfterData, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    handler = _DropsAfterData()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


async def test_a_session_lost_after_data_is_not_retried(
    dropping_server: tuple[_DropsAfterData, int],
) -> None:
    """Once DATA began, the server may have the mail: a lost session is a TransientError (the
    ledger's claim decides what follows), never a second copy on a new session."""
    handler, port = dropping_server
    target = SmtpTarget(host="127.0.0.1", port=port, security=Security.NONE, timeout_s=5)
    pool = SmtpPool(idle_s=30)
    try:
        await pool.send(_mail("ok")[0], target)
        with pytest.raises(TransientError):
            await pool.send(_mail("dropped")[0], target)
    finally:
        await pool.aclose()
    assert handler.received == 2 and pool.opened == 1
