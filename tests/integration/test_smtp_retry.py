"""SMTP failure handling against an SMTP server that answers what we tell it to (Mailman's
"fake MTA with error injection"): 4xx retried with backoff, 5xx never retried."""

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from postroom_replier.adapters.smtp import SmtpTarget, send_with_retry
from postroom_replier.domain.compose import OutboundMail, compose_test_mail
from postroom_replier.outbound import RelaySettings
from postroom_replier.smtp_check import SmtpCheckResult, send_test_mail
from postroom_shared.errors import PermanentError, TransientError
from postroom_shared.models import Security
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store


class Scripted:
    """Answers DATA with the scripted replies in order, then 250."""

    def __init__(self, replies: list[str]) -> None:
        self.replies = replies
        self.attempts = 0
        self.delivered: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.attempts += 1
        if self.replies:
            return self.replies.pop(0)
        self.delivered.append(envelope.content)
        return "250 2.0.0 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[tuple[Scripted, SmtpTarget]]:
    handler = Scripted(list(request.param))
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, SmtpTarget(host="127.0.0.1", port=port, security=Security.NONE, timeout_s=5)
    finally:
        controller.stop()


def _mail() -> OutboundMail:
    return compose_test_mail(
        sender="support@example.test", recipient="c@example.org", message_id="<x@y>", instance="x"
    )


@pytest.mark.parametrize("server", [["451 4.3.0 try later", "421 4.7.0 busy"]], indirect=True)
async def test_transient_answers_are_retried_until_delivered(
    server: tuple[Scripted, SmtpTarget],
) -> None:
    handler, target = server
    response = await send_with_retry(_mail(), target, deadline_s=10, first_delay_s=0.05)
    assert "OK" in response
    assert handler.attempts == 3 and len(handler.delivered) == 1


@pytest.mark.parametrize("server", [["451 4.3.0 try later"] * 50], indirect=True)
async def test_transient_failure_gives_up_at_the_deadline(
    server: tuple[Scripted, SmtpTarget],
) -> None:
    handler, target = server
    with pytest.raises(TransientError, match="451"):
        await send_with_retry(_mail(), target, deadline_s=0.5, first_delay_s=0.05)
    assert 2 <= handler.attempts < 10


@pytest.mark.parametrize("server", [["550 5.7.1 relaying denied"]], indirect=True)
async def test_permanent_answer_is_not_retried(server: tuple[Scripted, SmtpTarget]) -> None:
    handler, target = server
    with pytest.raises(PermanentError, match=r"550 5\.7\.1 relaying denied"):
        await send_with_retry(_mail(), target, deadline_s=10, first_delay_s=0.05)
    assert handler.attempts == 1


async def _test_mail(store: Store, target: SmtpTarget) -> SmtpCheckResult:
    relay = RelaySettings(host="127.0.0.1", port=target.port, security=Security.NONE)
    return await send_test_mail(
        store, SecretBox("s" * 40), relay, None, to="a@b.test", from_address="s@example.test"
    )


@pytest.mark.parametrize("server", [[]], indirect=True)
async def test_test_mail_reports_the_server_answer(
    server: tuple[Scripted, SmtpTarget], sqlite_store: Store
) -> None:
    handler, target = server
    result = await _test_mail(sqlite_store, target)
    assert result.ok and "OK" in result.smtp_response and result.error is None
    assert b"Postroom test mail" in handler.delivered[0]
    assert b"Auto-Submitted: auto-generated" in handler.delivered[0]


@pytest.mark.parametrize("server", [["550 5.7.1 relaying denied"]], indirect=True)
async def test_test_mail_reports_a_refusal_without_raising(
    server: tuple[Scripted, SmtpTarget], sqlite_store: Store
) -> None:
    handler, target = server
    result = await _test_mail(sqlite_store, target)
    assert (
        not result.ok and result.error is not None and "550 5.7.1 relaying denied" in result.error
    )
    assert handler.attempts == 1  # a test mail is never retried


async def test_unreachable_server_is_transient() -> None:
    target = SmtpTarget(host="127.0.0.1", port=_free_port(), security=Security.NONE, timeout_s=2)
    with pytest.raises(TransientError, match="connection"):
        await send_with_retry(_mail(), target, deadline_s=0)
