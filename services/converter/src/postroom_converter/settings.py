"""Converter settings (`POSTROOM_*`)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from postroom_shared.settings import CommonSettings

__all__ = ["AnalysisSettings", "ConverterSettings"]


class AnalysisSettings(BaseSettings):
    """The per-mail budget; also read by processes that reprocess quarantined mail (API, CLI)."""

    model_config = SettingsConfigDict(env_prefix="POSTROOM_", extra="ignore", frozen=True)

    parse_budget_s: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="Wall-clock seconds one mail may take to parse and classify; slower mail"
        " is quarantined with reason too_slow.",
    )
    parse_workers: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Worker processes that parse and classify mail (each ~40 MB).",
    )


class ConverterSettings(CommonSettings, AnalysisSettings):
    prefetch: int = Field(
        default=32,
        ge=1,
        le=256,
        description="Mails converted concurrently; those ready at the same time share one store"
        " transaction and one round of confirms (group commit), so more at once cost less each.",
    )
    outbox_relay_interval_s: float = Field(default=5.0, gt=0)
