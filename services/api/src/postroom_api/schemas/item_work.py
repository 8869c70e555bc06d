"""Working an item over HTTP: what a client sends to change it, note on it, answer its
requester or set who is notified, and what it gets back (docs/architecture.md, "Config API").

Every write takes an optional `version` (the item version the client last read; a different
current version is 409) as an alternative to the `If-Match` header (412). Without either, the
last writer wins.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator

from postroom_api.schemas.common import Address, Id, In, Label
from postroom_api.schemas.items import ItemState, MessageView

__all__ = [
    "AttachmentIn",
    "CommandResult",
    "ItemPatch",
    "NoteIn",
    "NotifyIn",
    "RecipientIn",
    "Refused",
    "ReplyIn",
    "WorkResult",
]

_BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
_Step = Annotated[str, StringConstraints(min_length=1, max_length=100)]
_FieldName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
_FieldValue = Annotated[str, StringConstraints(max_length=10_000)]
_Version = Annotated[
    int | None,
    Field(
        default=None,
        ge=1,
        le=2**53,
        description='The item version you last read (`version`, or the ETag `"v<version>"`);'
        " when the item is at another version now, nothing is changed and the answer is 409."
        " Omit it (and If-Match) and the last writer wins.",
    ),
]


class ItemPatch(In):
    """Any of these in one request; each becomes its own item command, applied in this order:
    status and workflow step, assignee, priority and fields. Fields left out stay as they are."""

    status: _Step | None = Field(default=None, examples=["closed"])
    workflow_step: _Step | None = Field(default=None, description="A step of the item's workflow.")
    assignee_id: Id | None = Field(
        default=None,
        description="Person id of a user; send null explicitly to unassign.",
        examples=["us_2b7c9d1e0f3a4b5c"],
    )
    priority: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        default=None, description='"" clears the priority.'
    )
    fields: dict[_FieldName, _FieldValue | None] | None = Field(
        default=None,
        max_length=100,
        description="Custom fields to set; a null value removes the field.",
    )
    version: _Version = None


class NoteIn(In):
    """An internal note: on the thread for the team, never mailed."""

    text: Annotated[str, StringConstraints(max_length=100_000, pattern=r"\S")] = Field(
        description="Not only white space."
    )
    version: _Version = None


class RecipientIn(In):
    address: Address
    name: Label = ""


class AttachmentIn(In):
    """A file sent with a reply, base64 inside the JSON body (the whole body stays within the
    API's 1 MiB JSON limit)."""

    filename: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    content_type: Annotated[
        str,
        StringConstraints(
            max_length=255, pattern=r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9!#$&^_.+-]+$"
        ),
    ] = "application/octet-stream"
    content_base64: Annotated[
        str, StringConstraints(min_length=1, max_length=1_400_000, pattern=_BASE64)
    ] = Field(description="The file's bytes, base64 (standard alphabet, padded).")

    @field_validator("filename")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if any(ord(c) < 32 or c in "/\\" for c in value):
            raise ValueError("a file name without path separators or control characters")
        return value


class ReplyIn(In):
    """A reply from the team: put on the thread and mailed by the replier from the account's
    address, with the item token in the subject and threading headers to the last mail."""

    text: Annotated[str, StringConstraints(max_length=500_000, pattern=r"\S")] = Field(
        description="The reply's text (not only white space); also the plain-text part."
    )
    html: Annotated[str, StringConstraints(max_length=800_000)] | None = Field(
        default=None, description="An HTML body as well as the text; sanitised when shown."
    )
    to: list[RecipientIn] = Field(
        default_factory=list, max_length=50, description="Empty: the item's requester."
    )
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=20)
    version: _Version = None


class NotifyIn(In):
    """The item's whole notification list; the answer says whom it added and removed."""

    addresses: list[Address] = Field(max_length=200, examples=[["lead@example.test"]])
    version: _Version = None


class CommandResult(BaseModel):
    command: str = Field(examples=["item.change_status.v1"])
    command_id: str = Field(description="Send the same Idempotency-Key to repeat it safely.")
    outcome: Literal["applied", "duplicate", "unchanged"] = Field(
        description="applied; duplicate (applied before, by this Idempotency-Key); unchanged"
        " (the item already was so)."
    )
    changes: list[str] = Field(examples=[["status"]])


class WorkResult(BaseModel):
    item: ItemState
    applied: list[CommandResult] = Field(description="One per command, in the order applied.")
    message: MessageView | None = Field(
        default=None, description="The note or reply added (null when it was added before)."
    )


class Refused(BaseModel):
    """A write refused because the item changed since the client read it (409, 412); the
    commands before the refused one stay applied."""

    detail: str
    current_version: int
    applied: list[CommandResult]
