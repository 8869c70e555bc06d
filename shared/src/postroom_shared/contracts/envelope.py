"""What every contract is made of: the envelopes of events and commands and their wire types.

Events and commands share the rules of the whole `contracts` package: frozen models, readers
ignore unknown fields, only optional fields are ever added within a version.
"""

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

__all__ = [
    "EVENT_NAMESPACE",
    "CommandEnvelope",
    "EventEnvelope",
    "MailKind",
    "RawMail",
    "deterministic_event_id",
]

EVENT_NAMESPACE = uuid.UUID("6f1d2a8e-53b1-4b7c-9a57-0c1f5e2f7d10")


def _raw_from_wire(value: Any) -> Any:
    """Raw mail from JSON: base64, as documented. Events written before the encoding was
    enforced carried the bytes as UTF-8 text; a raw mail always has a `Name: value` header,
    and a colon is never base64, so such a value is told apart and read as before."""
    if not isinstance(value, str):
        return value
    try:
        # What base64.b64decode(value, validate=True) does, without its copy of the text as
        # bytes first (binascii reads an ASCII str as it is; anything else: ValueError, as there)
        return binascii.a2b_base64(value, strict_mode=True)
    except binascii.Error:
        return value.encode()


# Raw mail is arbitrary bytes (8-bit bodies in Latin-1, Shift_JIS, ...): JSON carries it as
# base64, never as text, which could not hold bytes that are not UTF-8.
RawMail = Annotated[
    bytes,
    BeforeValidator(_raw_from_wire),
    PlainSerializer(lambda raw: base64.b64encode(raw).decode(), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "contentEncoding": "base64"}),
]


MailKind = Literal["normal", "auto_reply", "out_of_office", "bounce", "list", "own_loop"]


def deterministic_event_id(*parts: str) -> uuid.UUID:
    """Same inputs, same id: a redelivered message must produce the event it produced before."""
    return uuid.uuid5(EVENT_NAMESPACE, "\x1f".join(parts))


def _now() -> datetime:
    return datetime.now(UTC)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class EventEnvelope(_Frozen):
    """Fields every event carries."""

    event_id: uuid.UUID = Field(description="Unique id; consumers dedupe on it.")
    occurred_at: AwareDatetime = Field(default_factory=_now, description="When it happened (UTC).")
    source: str = Field(description="Service that published it.", examples=["converter"])
    correlation_id: str = Field(
        description="The mail key this flow started from, carried through every event.",
        examples=["acc_1f2e/INBOX/1795550152/42"],
    )
    causation_id: uuid.UUID | None = Field(
        default=None, description="event_id of the event that caused this one."
    )


class CommandEnvelope(_Frozen):
    """Fields every command carries."""

    command_id: uuid.UUID = Field(
        description="Chosen by the caller, the same for a repeated request; the owner applies"
        " each command once."
    )
    issued_at: AwareDatetime = Field(default_factory=_now, description="When it was asked (UTC).")
    source: str = Field(description="Service that asks (the actor).", examples=["replier"])
    correlation_id: str = Field(
        description="The mail key the flow started from.",
        examples=["acc_1f2e/INBOX/1795550152/42"],
    )
    causation_id: uuid.UUID | None = Field(
        default=None, description="event_id of the event that led to the request."
    )
