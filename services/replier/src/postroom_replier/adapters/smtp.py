"""Sending through SMTP with aiosmtplib, with failures sorted into transient and permanent.

4xx answers and network trouble are `TransientError` (the event is retried, bounded by the
queue's delivery limit); 5xx answers are `PermanentError` (recorded, never retried).
"""

import ssl
from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from postroom_shared.errors import PermanentError, TransientError
from postroom_shared.models import Security

__all__ = ["SmtpTarget", "send_message"]


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
