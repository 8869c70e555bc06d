"""Sending through SMTP with aiosmtplib, with failures sorted into transient and permanent.

4xx answers and network trouble are `TransientError` (the event is retried, bounded by the
queue's delivery limit); 5xx answers are `PermanentError` (recorded, never retried).
"""

import asyncio
import random
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from postroom_shared.errors import PermanentError, TransientError
from postroom_shared.models import Security

__all__ = ["SmtpTarget", "send_message", "send_test_mail", "send_with_retry"]


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    security: Security
    verify_tls: bool = True
    username: str | None = None
    password: str | None = None
    timeout_s: float = 30.0


def _classify(code: int, text: str) -> Exception:
    detail = f"SMTP {code} {text}".strip()
    return TransientError(detail) if 400 <= code < 500 else PermanentError(detail)


async def send_message(message: EmailMessage, target: SmtpTarget) -> str:
    """Send `message`; returns the server's final answer."""
    context = ssl.create_default_context()
    if not target.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        _, response = await aiosmtplib.send(
            message,
            hostname=target.host,
            port=target.port,
            use_tls=target.security is Security.TLS,
            start_tls=target.security is Security.STARTTLS,
            tls_context=context,
            username=target.username,
            password=target.password,
            timeout=target.timeout_s,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        first = exc.recipients[0]
        raise _classify(first.code, first.message) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise _classify(exc.code, exc.message) from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise TransientError(
            f"SMTP connection to {target.host}:{target.port} failed: {exc!r}"
        ) from exc
    return response


async def send_with_retry(
    message: EmailMessage, target: SmtpTarget, *, deadline_s: float, first_delay_s: float = 1.0
) -> str:
    """`send_message`, retrying transient failures with exponential backoff and jitter until
    `deadline_s` has passed; the last TransientError is raised then (the event is requeued).
    Permanent failures are raised at once: a 5xx never turns into a retry storm."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    delay = first_delay_s
    while True:
        try:
            return await send_message(message, target)
        except TransientError:
            if loop.time() + delay > end:
                raise
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, 30.0)


async def send_test_mail(target: SmtpTarget, *, sender: str, recipient: str) -> str:
    """The "send test mail" action of the SMTP settings (SPEC F1): one plain mail, the
    server's answer returned, any failure raised with the server's words."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = "Postroom test mail"
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content("This test mail shows that Postroom can send through this SMTP server.")
    return await send_message(message, target)
