"""Checking the SMTP settings: the "send test mail" action of the API (docs/architecture.md).

It sends one real mail through exactly the path automatic mail takes (the stored custom server,
else the built-in relay; same TLS, AUTH and classification), once, without retries, and reports
what happened instead of raising: the admin wants the server's own words, e.g. "535 5.7.8
Authentication credentials invalid" or "certificate is not trusted".
"""

import uuid
from dataclasses import dataclass

from postroom_replier.adapters.smtp import send_message
from postroom_replier.domain.compose import compose_test_mail
from postroom_replier.outbound import AccessTokens, RelaySettings, resolve_target
from postroom_shared.errors import PostroomError
from postroom_shared.logs import get_logger
from postroom_shared.secretbox import SecretBox
from postroom_shared.store.ports import ConfigReader

__all__ = ["SmtpCheckResult", "send_test_mail"]

log = get_logger(__name__)


@dataclass(frozen=True)
class SmtpCheckResult:
    """What became of one test mail: the server's answer, or the error in its own words."""

    ok: bool
    smtp_response: str = ""
    error: str | None = None
    server: str = ""  # host:port it went (or tried to go) through


async def send_test_mail(
    store: ConfigReader,
    secrets: SecretBox,
    relay: RelaySettings,
    tokens: AccessTokens | None,
    *,
    to: str,
    from_address: str,
    instance: str = "postroom",
) -> SmtpCheckResult:
    """Send one test mail from `from_address` to `to`; never raises for SMTP, TLS, OAuth,
    network or configuration errors (they come back in `error`)."""
    try:
        target = await resolve_target(store, secrets=secrets, relay=relay, tokens=tokens)
    except PostroomError as exc:
        return SmtpCheckResult(ok=False, error=f"SMTP settings cannot be used: {exc}")
    domain = from_address.rsplit("@", 1)[-1] or "postroom.invalid"
    try:
        mail = compose_test_mail(
            sender=from_address,
            recipient=to,
            message_id=f"<pr.test.{uuid.uuid4().hex}@{domain}>",
            instance=instance,
        )
    except ValueError as exc:  # an address the mail library cannot put into a header
        return SmtpCheckResult(ok=False, error=f"invalid address: {exc}")
    try:
        response = await send_message(mail, target)
    except (PostroomError, OSError) as exc:  # OSError: a token endpoint out of reach
        log.info("test mail failed", server=target.where, error=str(exc))
        return SmtpCheckResult(ok=False, error=str(exc) or repr(exc), server=target.where)
    log.info("test mail sent", server=target.where, response=response)
    return SmtpCheckResult(ok=True, smtp_response=response, server=target.where)
