"""Events: facts, named after what happened, published on the `postroom.events` exchange."""

import uuid
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from postroom_shared.contracts.envelope import EventEnvelope, RawMail, _now
from postroom_shared.contracts.refs import ActorV1, AddressV1, ItemRefV1, MessageRefV1

__all__ = [
    "AccountStateV1",
    "Event",
    "ItemChange",
    "ItemCommandRejectedV1",
    "ItemCreatedV1",
    "ItemUpdatedV1",
    "MailIgnoredV1",
    "MailQuarantinedV1",
    "MailReceivedV1",
    "ReplyFailedV1",
    "ReplySentV1",
    "ReplySuppressedV1",
]

# What an item.updated.v1 says changed; subscribers ignore values they do not know.
ItemChange = Literal[
    "message_appended", "status", "workflow_step", "assignee", "priority", "fields", "notify",
    "note_added", "reply_added",
]  # fmt: skip


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
    """An existing item changed: a mail came in for it, or someone (a person through the API,
    a service through a command) changed it."""

    type: Literal["item.updated.v1"] = "item.updated.v1"
    item: ItemRefV1
    changes: tuple[ItemChange, ...] = Field(examples=[["message_appended"], ["status"]])
    threaded_by: str = Field(
        default="",
        description="Why the mail was put on this item ('' when no mail caused the change).",
        examples=["signed Message-ID in In-Reply-To", "subject token [INC-1] from a participant"],
    )
    message: MessageRefV1 | None = Field(
        default=None, description="The inbound mail that caused the change; null for a command."
    )
    actor: ActorV1 | None = Field(default=None, description="Who made the change.")
    command_id: uuid.UUID | None = Field(
        default=None, description="The command that caused the change, when one did."
    )
    version: int | None = Field(
        default=None, ge=1, description="The item's version after the change."
    )
    thread_key: str | None = Field(
        default=None, description="Key of the note or reply the change added to the thread."
    )


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


# The automatic mail answers no item (a notice about the sender's own mail) when set.
Notice = Annotated[
    Literal["too_large"] | None,
    Field(
        description="Set when the mail answers no item: too_large = the sender's mail exceeded"
        " the account's size limit; item_id then holds the mail's quarantine id."
    ),
]


class ReplySentV1(EventEnvelope):
    """Postroom sent an automatic mail."""

    type: Literal["reply.sent.v1"] = "reply.sent.v1"
    item_id: str
    reason: Literal["auto_reply", "notification"]
    recipient: str
    message_id: str
    smtp_response: str = ""
    notice: Notice = None


class ReplySuppressedV1(EventEnvelope):
    """Postroom decided not to send an automatic mail, and why."""

    type: Literal["reply.suppressed.v1"] = "reply.suppressed.v1"
    item_id: str
    reason: Literal["auto_reply", "notification"]
    recipient: str | None
    why: str = Field(examples=["sender is an auto-responder (Auto-Submitted: auto-replied)"])
    notice: Notice = None


class ReplyFailedV1(EventEnvelope):
    """An automatic mail could not be sent and will not be retried."""

    type: Literal["reply.failed.v1"] = "reply.failed.v1"
    item_id: str
    reason: Literal["auto_reply", "notification"]
    recipient: str
    error: str = Field(description="The SMTP server's answer or the local error.")
    notice: Notice = None


class ItemCommandRejectedV1(EventEnvelope):
    """A command to change an item was refused; it waits in its queue's dead-letter queue."""

    type: Literal["item.command_rejected.v1"] = "item.command_rejected.v1"
    command_id: uuid.UUID
    command_type: str = Field(examples=["item.change_status.v1"])
    item_id: str
    actor: ActorV1 | None = Field(default=None, description="Who asked, when readable.")
    reason: str = Field(
        examples=["workflow step 'done' is not a step of workflow 'Support'", "version conflict"]
    )
    conflict: bool = Field(
        default=False,
        description="True when only the expected version was stale: re-read and retry.",
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
    | ReplySuppressedV1
    | ItemCommandRejectedV1,
    Field(discriminator="type"),
]
