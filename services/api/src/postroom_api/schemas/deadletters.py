"""Views of the dead-letter queues (`/v1/deadletters`)."""

from pydantic import BaseModel, Field

from postroom_api.schemas.common import View
from postroom_shared.deadletters import DeadLetterInfo

__all__ = [
    "DeadLetterDetail",
    "DeadLetterPage",
    "DeadLetterQueueView",
    "DeadLetterView",
    "MovedView",
]


class DeadLetterQueueView(BaseModel):
    queue: str = Field(description="The consumer queue.", examples=["converter.mail.received.v1"])
    dead_letter_queue: str = Field(examples=["converter.mail.received.v1.dlq"])
    count: int = Field(description="Messages waiting in the dead-letter queue.")


class DeadLetterView(View):
    message_id: str | None = Field(description="The event id (the AMQP message id).")
    type: str | None = Field(description="The event type.", examples=["item.created.v1"])
    correlation_id: str | None
    attempt: int = Field(description="The try on which it failed for the last time.")
    reason: str = Field(description="Why it was given up on (the last error, or the broker's).")
    failed_at: str | None = Field(description="When the consumer gave up (ISO 8601, UTC).")
    size: int = Field(description="Body size in bytes.")
    headers: dict[str, str] = Field(description="The message's headers, as text.")

    @classmethod
    def of(cls, info: DeadLetterInfo) -> "DeadLetterView":
        return cls.read(info)


class DeadLetterDetail(DeadLetterView):
    body: str = Field(description="The message body (the event's JSON), as UTF-8 text.")

    @classmethod
    def detail(cls, info: DeadLetterInfo) -> "DeadLetterDetail":
        return cls.read(info, body=(info.body or b"").decode("utf-8", "replace"))


class DeadLetterPage(BaseModel):
    queue: str
    count: int = Field(description="Messages in the dead-letter queue.")
    messages: list[DeadLetterView] = Field(description="The first ones, oldest first.")


class MovedView(BaseModel):
    queue: str
    count: int = Field(description="How many messages were replayed or purged.")
