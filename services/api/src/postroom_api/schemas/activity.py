"""Views of the activity counts and the queue depths (`/v1/activity`, `/v1/queues`)."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from postroom_shared.store.ports import ActivityKind

__all__ = ["ActivityView", "QueueDepthView"]


class ActivityView(BaseModel):
    bucket: Literal["hour", "day"] = Field(description="How long each bucket is.")
    since: datetime = Field(description="Start of the first bucket (UTC).")
    until: datetime = Field(description="End of the last bucket (UTC, the current one's end).")
    starts: list[datetime] = Field(description="Start of every bucket, oldest first.")
    counts: dict[ActivityKind, list[int]] = Field(
        description="Per kind, one count per bucket (aligned with `starts`): mails received,"
        " items created, replies sent, replies suppressed by the loop rules and limits."
    )
    totals: dict[ActivityKind, int]


class QueueDepthView(BaseModel):
    queue: str = Field(examples=["converter.mail.received.v1"])
    ready: int = Field(description="Messages waiting for a consumer.")
    consumers: int = Field(description="Consumers attached now.")
    dead_letters: int = Field(description="Messages in its dead-letter queue (`<queue>.dlq`).")
