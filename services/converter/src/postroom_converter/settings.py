"""Converter settings (`POSTROOM_*`)."""

from pydantic import Field

from postroom_shared.settings import CommonSettings

__all__ = ["ConverterSettings"]


class ConverterSettings(CommonSettings):
    prefetch: int = Field(default=8, ge=1, le=256, description="Mails converted concurrently.")
    outbox_relay_interval_s: float = Field(default=5.0, gt=0)
