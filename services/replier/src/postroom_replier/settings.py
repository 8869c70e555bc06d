"""Replier settings (`POSTROOM_*`), including the built-in default SMTP relay (docs/features.md F1).

`ReplyRuleSettings` holds what the API reads too: the template render limits (a preview renders
as a send does) and the loop breaker's parameters (the account state lists active breakers).
"""

from pydantic import Field, SecretStr

from postroom_replier.domain.loop_breaker import BreakerRule
from postroom_replier.outbound import RelaySettings
from postroom_shared.models import MAIL_BYTES_CEILING, Security
from postroom_shared.settings import CommonSettings

__all__ = ["ReplierSettings", "ReplyRuleSettings"]


class ReplyRuleSettings(CommonSettings):
    template_render_timeout_s: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="A stored template that takes longer to render is stopped and the built-in"
        " one is sent (preview: 422).",
    )
    template_workers: int = Field(
        default=2, ge=1, le=16, description="Processes that render stored templates, per service."
    )
    template_memory_mb: int = Field(
        default=512, ge=128, description="Address-space limit of each template render process."
    )
    loop_breaker_items: int = Field(
        default=3,
        ge=0,
        description="An address that opened this many new items within loop_breaker_window_s,"
        " each answered, gets no auto-reply for loop_breaker_silence_s (0: off).",
    )
    loop_breaker_window_s: float = Field(default=600.0, gt=0)
    loop_breaker_silence_s: float = Field(default=3600.0, gt=0)

    def breaker_rule(self) -> BreakerRule:
        return BreakerRule(
            items=self.loop_breaker_items,
            window_s=self.loop_breaker_window_s,
            silence_s=self.loop_breaker_silence_s,
        )


class ReplierSettings(ReplyRuleSettings):
    prefetch: int = Field(default=8, ge=1, le=256)
    smtp_host: str = Field(default="127.0.0.1", description="Default relay host (F1 built-in).")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_security: Security = Security.STARTTLS
    smtp_verify_tls: bool = True
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_s: float = Field(default=30.0, gt=0)
    smtp_idle_s: float = Field(
        default=30.0,
        gt=0,
        description="An SMTP session unused this long is closed; until then the next automatic"
        " mail to the same server reuses it.",
    )
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
    automail_max_per_hour: int = Field(
        default=1000,
        ge=0,
        description="Automatic mails (auto-replies, notifications, notices) Postroom sends in"
        " any hour, counted from the stored send history (0: no limit).",
    )
    automail_max_per_domain_per_hour: int = Field(
        default=200,
        ge=0,
        description="The same, per recipient domain (0: no limit).",
    )

    def relay(self) -> RelaySettings:
        """The built-in relay as the model the API's "send test mail" shares with us."""
        # each field is the setting of the same name with the smtp_ prefix (POSTROOM_SMTP_*)
        fields = {name: getattr(self, f"smtp_{name}") for name in RelaySettings.model_fields}
        return RelaySettings(**fields)
