"""Fetcher settings (`POSTROOM_*`)."""

from pydantic import Field

from postroom_shared.settings import CommonSettings

__all__ = ["FetcherSettings"]


class FetcherSettings(CommonSettings):
    accounts_refresh_s: float = Field(
        default=10.0, gt=0, description="How often the list of active accounts is re-read."
    )
    inline_max_bytes: int = Field(
        default=256 * 1024,
        ge=0,
        le=8 * 1024 * 1024,
        description="Raw mail up to this size rides in the event; larger goes to the blob store.",
    )
    max_mail_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    fetch_batch: int = Field(default=20, ge=1, le=500)
    network_timeout_s: float = Field(default=30.0, gt=0)
