"""Replier settings (`POSTROOM_*`), including the built-in default SMTP relay (SPEC F1)."""

from pydantic import Field, SecretStr

from postroom_replier.outbound import RelaySettings
from postroom_shared.models import MAIL_BYTES_CEILING, Security
from postroom_shared.settings import CommonSettings

__all__ = ["ReplierSettings"]


class ReplierSettings(CommonSettings):
    prefetch: int = Field(default=8, ge=1, le=256)
    smtp_host: str = Field(default="127.0.0.1", description="Default relay host (F1 built-in).")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_security: Security = Security.STARTTLS
    smtp_verify_tls: bool = True
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_s: float = Field(default=30.0, gt=0)
    smtp_retry_deadline_s: float = Field(
        default=120.0,
        ge=0,
        description="How long 4xx answers and network errors are retried"
        " (exponential backoff) before the event is requeued.",
    )

    max_mail_bytes: int = Field(
        default=MAIL_BYTES_CEILING,
        gt=0,
        le=MAIL_BYTES_CEILING,
        description="The fetcher's ceiling for every account's max_mail_bytes (same variable):"
        " the limit a too-large notice names is the smaller of the two, as the fetcher applies.",
    )

    def relay(self) -> RelaySettings:
        """The built-in relay as the model the API's "send test mail" shares with us."""
        return RelaySettings(
            host=self.smtp_host,
            port=self.smtp_port,
            security=self.smtp_security,
            verify_tls=self.smtp_verify_tls,
            username=self.smtp_username,
            password=self.smtp_password,
            timeout_s=self.smtp_timeout_s,
        )
