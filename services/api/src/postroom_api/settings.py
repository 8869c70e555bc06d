"""API settings (`POSTROOM_*`)."""

from pydantic import Field, SecretStr, field_validator

from postroom_api.console.settings import ConsoleSettings
from postroom_replier.ops import ReplyRuleSettings
from postroom_shared.models import MAIL_BYTES_CEILING

__all__ = ["ApiSettings"]


class ApiSettings(ReplyRuleSettings, ConsoleSettings):  # template limits, loop breaker: as replier
    api_host: str = Field(default="127.0.0.1", description="Address the HTTP server binds.")
    api_port: int = Field(default=8080, ge=1, le=65535)
    admin_api_key: SecretStr = Field(description="Bearer key with the admin scope.")
    inline_max_bytes: int = Field(
        default=256 * 1024,
        ge=0,
        description="Pushed mail up to this size rides inside mail.received.v1; larger mail"
        " goes to the blob store first.",
    )
    max_mail_bytes: int = Field(
        default=MAIL_BYTES_CEILING,
        gt=0,
        le=MAIL_BYTES_CEILING,
        description="The deployment's ceiling for every account's max_mail_bytes (the variable"
        " the fetcher reads too): pushed mail over the smaller of the two is refused with 413.",
    )
    mail_ca_file: str | None = Field(
        default=None,
        description="Extra CA bundle trusted for mailbox servers (folder list, connection test);"
        " the fetcher reads the same POSTROOM_MAIL_CA_FILE.",
    )

    @field_validator("admin_api_key")
    @classmethod
    def _strong(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 24:
            raise ValueError("POSTROOM_ADMIN_API_KEY must be at least 24 characters long")
        return value
