"""Versioned contracts: the only shapes that travel between services.

Events are facts, frozen pydantic models named after what happened, with the version in both
the class name and the `type` literal. Commands are requests to the one owner of what they
change, named in the imperative (`item.record_sent_mail.v1`), with a `command_id` the caller
chooses so that asking twice changes things once (docs/decisions.md, "One owner for the
item"). Within a version we only ever add
optional fields, and readers ignore fields they do not know (`extra="ignore"`), so producers
and consumers can be upgraded independently. `tests/contract/` snapshots each JSON schema so
that a breaking edit fails loudly.
"""

import base64
import binascii
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

if TYPE_CHECKING:  # models are not imported at run time: the contracts stand alone
    from postroom_shared.models import Item

__all__ = [
    "COMMAND_CONTRACTS",
    "EVENT_NAMESPACE",
    "AccountStateV1",
    "AddressV1",
    "ClassificationV1",
    "CommandEnvelope",
    "Event",
    "EventEnvelope",
    "ItemCreatedV1",
    "ItemRefV1",
    "ItemUpdatedV1",
    "MailIgnoredV1",
    "MailKind",
    "MailQuarantinedV1",
    "MailReceivedV1",
    "MessageRefV1",
    "RecordSentMailV1",
    "ReplyFailedV1",
    "ReplySentV1",
    "ReplySuppressedV1",
    "deterministic_event_id",
    "item_ref",
]

EVENT_NAMESPACE = uuid.UUID("6f1d2a8e-53b1-4b7c-9a57-0c1f5e2f7d10")


def _raw_from_wire(value: Any) -> Any:
    """Raw mail from JSON: base64, as documented. Events written before the encoding was
    enforced carried the bytes as UTF-8 text; a raw mail always has a `Name: value` header,
    and a colon is never base64, so such a value is told apart and read as before."""
    if not isinstance(value, str):
        return value
    try:
        return base64.b64decode(value, validate=True)
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


class AddressV1(_Frozen):
    """One mailbox: address plus display name."""

    address: str = Field(examples=["customer@example.test"])
    name: str = Field(default="", examples=["Casey Customer"])


class ClassificationV1(_Frozen):
    """What kind of mail this is, for loop safety."""

    kind: MailKind = Field(
        description="normal mail gets auto-replies; every other kind never does."
    )
    auto_submitted: bool = Field(description="True when any automatic-mail signal was found.")
    reasons: tuple[str, ...] = Field(
        default=(),
        description="Which headers or patterns led to the kind.",
        examples=[["Auto-Submitted: auto-replied"]],
    )


class MessageRefV1(_Frozen):
    """The inbound mail an item event is about: what a replier needs to answer it."""

    mail_key: str = Field(description="Stable identity of the fetched mail.")
    message_id: str = Field(description="Message-ID header with angle brackets, or ''.")
    references: tuple[str, ...] = Field(default=(), description="References header ids.")
    subject: str = Field(default="")
    sender: AddressV1 | None = Field(description="From address (or null when unusable).")
    reply_to: tuple[AddressV1, ...] = Field(default=())
    to: tuple[AddressV1, ...] = Field(default=())
    cc: tuple[AddressV1, ...] = Field(default=())
    return_path_null: bool = Field(default=False, description="Envelope sender was <>.")
    classification: ClassificationV1


class ItemRefV1(_Frozen):
    """The item an event is about."""

    item_id: str = Field(examples=["it_3f9a0c1d2e4b5a69"])
    item_type: Literal["incident", "user_story", "defect"]
    number: int = Field(ge=1, examples=[1])
    token: str = Field(examples=["INC-1"], description="Subject token without brackets.")
    project: str = Field(examples=["Support"])
    title: str
    status: str = Field(examples=["new"])
    account_id: str


def item_ref(item: "Item", *, status: str | None = None) -> ItemRefV1:
    """A stored item as the events describe it; `status` when the event's change sets a new
    one (subscribers then find the item in that state)."""
    return ItemRefV1(
        item_id=item.id,
        item_type=item.item_type.value,
        number=item.number,
        token=item.token,
        project=item.project,
        title=item.title,
        status=status or item.status,
        account_id=item.account_id,
    )


class MailReceivedV1(EventEnvelope):
    """A mail was fetched from a mailbox (or pushed) and is ready for conversion."""

    type: Literal["mail.received.v1"] = "mail.received.v1"
    account_id: str
    mail_key: str = Field(description="(account, folder, UIDVALIDITY, UID) joined by '/'.")
    folder: str = Field(default="INBOX")
    uidvalidity: int | None = None
    uid: int | None = None
    size: int = Field(ge=0, description="Size of the raw mail in bytes.")
    sha256: str = Field(description="Hex sha256 of the raw mail.")
    raw_inline: RawMail | None = Field(
        default=None, description="The raw mail when small (base64 in JSON); else use blob_ref."
    )
    blob_ref: str | None = Field(default=None, description="Blob store reference of the raw mail.")
    fetched_at: AwareDatetime = Field(default_factory=_now)


class ItemCreatedV1(EventEnvelope):
    """A new item was created from a mail."""

    type: Literal["item.created.v1"] = "item.created.v1"
    item: ItemRefV1
    message: MessageRefV1


class ItemUpdatedV1(EventEnvelope):
    """An existing item changed because of a mail."""

    type: Literal["item.updated.v1"] = "item.updated.v1"
    item: ItemRefV1
    changes: tuple[Literal["message_appended", "status", "workflow_step"], ...] = Field(
        examples=[["message_appended"]]
    )
    threaded_by: str = Field(
        description="Why the mail was put on this item.",
        examples=["signed Message-ID in In-Reply-To", "subject token [INC-1] from a participant"],
    )
    message: MessageRefV1


class MailIgnoredV1(EventEnvelope):
    """A fetched mail was deliberately not turned into anything."""

    type: Literal["mail.ignored.v1"] = "mail.ignored.v1"
    account_id: str
    mail_key: str
    reason: str


class MailQuarantinedV1(EventEnvelope):
    """A mail could not be processed; its raw bytes wait in the quarantine for a human."""

    type: Literal["mail.quarantined.v1"] = "mail.quarantined.v1"
    account_id: str
    mail_key: str
    quarantine_id: str = Field(description="Id to inspect, reprocess or discard it by.")
    reason: str = Field(examples=["MIME nesting deeper than 100 levels"])
    too_large: bool = Field(
        default=False, description="Left on the server for its size (fetcher); only headers kept."
    )
    sender: AddressV1 | None = Field(default=None, description="From of the mail, when readable.")
    subject: str = ""
    size: int | None = Field(default=None, ge=0, description="Size of the raw mail in bytes.")


class AccountStateV1(EventEnvelope):
    """Fetching an account changed state: failing, recovered, or needs re-authorisation."""

    type: Literal["account.state.v1"] = "account.state.v1"
    account_id: str
    status: Literal["ok", "error", "needs_reauth"]
    error_kind: str | None = Field(
        default=None, examples=["auth", "tls", "folder", "network", "consent_revoked"]
    )
    error: str | None = None


class ReplySentV1(EventEnvelope):
    """Postroom sent an automatic mail."""

    type: Literal["reply.sent.v1"] = "reply.sent.v1"
    item_id: str
    reason: Literal["auto_reply", "notification"]
    recipient: str
    message_id: str
    smtp_response: str = ""
    notice: Literal["too_large"] | None = Field(
        default=None,
        description="Set when the mail answers no item: too_large = the sender's mail exceeded"
        " the account's size limit; item_id then holds the mail's quarantine id.",
    )


class ReplySuppressedV1(EventEnvelope):
    """Postroom decided not to send an automatic mail, and why."""

    type: Literal["reply.suppressed.v1"] = "reply.suppressed.v1"
    item_id: str
    reason: Literal["auto_reply", "notification"]
    recipient: str | None
    why: str = Field(examples=["sender is an auto-responder (Auto-Submitted: auto-replied)"])
    notice: Literal["too_large"] | None = Field(
        default=None,
        description="Set when the mail answers no item: too_large = the sender's mail exceeded"
        " the account's size limit; item_id then holds the mail's quarantine id.",
    )


class ReplyFailedV1(EventEnvelope):
    """An automatic mail could not be sent and will not be retried."""

    type: Literal["reply.failed.v1"] = "reply.failed.v1"
    item_id: str
    reason: Literal["auto_reply", "notification"]
    recipient: str
    error: str = Field(description="The SMTP server's answer or the local error.")
    notice: Literal["too_large"] | None = Field(
        default=None,
        description="Set when the mail answers no item: too_large = the sender's mail exceeded"
        " the account's size limit; item_id then holds the mail's quarantine id.",
    )


Event = Annotated[
    MailReceivedV1
    | ItemCreatedV1
    | ItemUpdatedV1
    | MailIgnoredV1
    | MailQuarantinedV1
    | AccountStateV1
    | ReplySentV1
    | ReplyFailedV1
    | ReplySuppressedV1,
    Field(discriminator="type"),
]


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


class RecordSentMailV1(CommandEnvelope):
    """Put a mail Postroom sent (an auto-reply or a notification) on its item's thread. Sent to
    the converter, which owns items and their threads; the mail's Message-ID keys the thread
    entry, so a repeated command adds nothing."""

    type: Literal["item.record_sent_mail.v1"] = "item.record_sent_mail.v1"
    item_id: str
    account_id: str = Field(description="The account the mail was sent for.")
    message_id: str = Field(description="Message-ID of the sent mail, with angle brackets.")
    in_reply_to: tuple[str, ...] = Field(default=(), description="The mail it answers.")
    subject: str = ""
    sender: AddressV1
    to: tuple[AddressV1, ...]
    kind: Literal["auto_reply", "notification"]
    sent_at: AwareDatetime = Field(description="When the SMTP server accepted it.")


# Every command contract; each has one owner queue (topology.COMMAND_CONSUMERS).
COMMAND_CONTRACTS: tuple[type[CommandEnvelope], ...] = (RecordSentMailV1,)
