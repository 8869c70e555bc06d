"""Commands: requests to the one owner of what they change, named in the imperative.

Each command type has one owner queue on the `postroom.commands` exchange
(topology.COMMAND_CONSUMERS). The caller picks `command_id` and repeats it when it asks again,
so a command is applied once however often it is delivered (docs/decisions.md, "One owner for
the item"). The item commands carry who asks (`actor`) and, for optimistic concurrency, the
item version the caller last saw: a stale one is refused, the caller re-reads and retries.
"""

from typing import Literal

from pydantic import AwareDatetime, Field, model_validator

from postroom_shared.contracts.envelope import CommandEnvelope
from postroom_shared.contracts.refs import ActorV1, AddressV1, AttachmentRefV1

__all__ = [
    "COMMAND_CONTRACTS",
    "ITEM_COMMANDS",
    "AddNoteV1",
    "AddReplyV1",
    "AssignV1",
    "ChangeStatusV1",
    "ItemCommand",
    "ItemCommandEnvelope",
    "RecordSentMailV1",
    "SetFieldsV1",
    "SetNotifyV1",
]


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


class ItemCommandEnvelope(CommandEnvelope):
    """Fields every command that changes an item carries."""

    item_id: str = Field(examples=["it_3f9a0c1d2e4b5a69"])
    actor: ActorV1 = Field(description="Who asks: a user, an API key or a service.")
    expected_version: int | None = Field(
        default=None,
        ge=1,
        description="The item version the caller last saw; a different current version refuses"
        " the command (re-read and retry). Null: no check.",
    )
    correlation_id: str = Field(
        default="",
        description="The flow this request belongs to, when there is one.",
    )


class ChangeStatusV1(ItemCommandEnvelope):
    """Set an item's status and/or its workflow step (validated against its workflow)."""

    type: Literal["item.change_status.v1"] = "item.change_status.v1"
    status: str | None = Field(default=None, min_length=1, max_length=100, examples=["closed"])
    workflow_step: str | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _something_to_change(self) -> "ChangeStatusV1":
        if self.status is None and self.workflow_step is None:
            raise ValueError("give a status, a workflow_step, or both")
        return self


class AssignV1(ItemCommandEnvelope):
    """Assign an item to a user (a person of kind user), or unassign it."""

    type: Literal["item.assign.v1"] = "item.assign.v1"
    assignee_id: str | None = Field(description="Person id of a user; null unassigns.")


class SetFieldsV1(ItemCommandEnvelope):
    """Set the priority and custom fields of an item; a null field value removes the field."""

    type: Literal["item.set_fields.v1"] = "item.set_fields.v1"
    priority: str | None = Field(default=None, max_length=100, description="Null: unchanged.")
    fields: dict[str, str | None] = Field(
        default_factory=dict, description="Field name -> value; null removes the field."
    )


class SetNotifyV1(ItemCommandEnvelope):
    """Add addresses to and remove them from an item's notification list."""

    type: Literal["item.set_notify.v1"] = "item.set_notify.v1"
    add: tuple[str, ...] = Field(default=(), examples=[["lead@example.test"]])
    remove: tuple[str, ...] = Field(default=())


class AddNoteV1(ItemCommandEnvelope):
    """Add an internal note to an item's thread; notes are never mailed."""

    type: Literal["item.add_note.v1"] = "item.add_note.v1"
    text: str = Field(max_length=100_000)


class AddReplyV1(ItemCommandEnvelope):
    """Add a reply from the team to an item's thread; the replier mails it."""

    type: Literal["item.add_reply.v1"] = "item.add_reply.v1"
    text: str = Field(max_length=1_000_000)
    html: str | None = Field(default=None, max_length=2_000_000)
    attachments: tuple[AttachmentRefV1, ...] = Field(default=())
    to: tuple[AddressV1, ...] = Field(default=(), description="Empty: the item's requester.")


ItemCommand = ChangeStatusV1 | AssignV1 | SetFieldsV1 | SetNotifyV1 | AddNoteV1 | AddReplyV1
ITEM_COMMANDS: tuple[type[ItemCommandEnvelope], ...] = (
    ChangeStatusV1,
    AssignV1,
    SetFieldsV1,
    SetNotifyV1,
    AddNoteV1,
    AddReplyV1,
)
# Every command contract; each has one owner queue (topology.COMMAND_CONSUMERS).
COMMAND_CONTRACTS: tuple[type[CommandEnvelope], ...] = (RecordSentMailV1, *ITEM_COMMANDS)
