"""Settings of how Postroom talks to RabbitMQ: retries, publish timeouts, metric caching.

A mixin of `CommonSettings`, so every process reads the same values: the retry steps name the
delay queues (`<queue>.retry.<delay>`) that consumers publish to, and every process declares
them.
"""

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode

__all__ = ["BrokerSettings"]


class BrokerSettings(BaseSettings):
    retry_attempts: int = Field(
        default=6,
        ge=1,
        le=50,
        description="How many times a consumer tries a message (the first try included) before"
        " the converter quarantines it or any other consumer dead-letters it to <queue>.dlq.",
    )
    retry_backoff_s: Annotated[tuple[float, ...], NoDecode] = Field(
        default=(1.0, 5.0, 30.0, 120.0, 600.0),
        description="Delays before the 2nd, 3rd, ... try, comma-separated seconds; the last one"
        " repeats when there are more attempts than steps.",
    )
    publish_timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="How long a publish may wait for the broker's confirm before it fails"
        " (transient: nothing is deleted or acknowledged).",
    )
    metrics_cache_s: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long the API's /metrics reuses the queue depths and store gauges it"
        " read last (0: read them on every scrape).",
    )

    @field_validator("retry_backoff_s", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(float(part) for part in value.split(",") if part.strip())
        return value

    @field_validator("retry_backoff_s")
    @classmethod
    def _positive_steps(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not value:
            raise ValueError("POSTROOM_RETRY_BACKOFF_S needs at least one delay")
        if any(step < 0.01 or step > 86_400 for step in value):
            raise ValueError("each retry delay must lie between 0.01 s and one day")
        return value
