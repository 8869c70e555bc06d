"""The console's settings (`POSTROOM_CONSOLE_*`), a part of the API's settings."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ConsoleSettings"]


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POSTROOM_", extra="ignore", frozen=True)

    console_idle_s: float = Field(
        default=1800.0,
        gt=0,
        description="A console session unused this long is signed out.",
    )
    console_max_s: float = Field(
        default=12 * 3600.0,
        gt=0,
        description="A console session ends this long after sign-in, however busy.",
    )
