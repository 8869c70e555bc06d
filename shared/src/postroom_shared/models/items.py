"""Stored work: items, their thread messages and attachments, and the people mail relates to."""

from typing import Literal

from pydantic import AwareDatetime, Field

from postroom_shared.models.base import TOKEN_PREFIXES, ItemType, _Model, utcnow

__all__ = ["BounceMark", "Item", "Party", "Person", "StoredAttachment", "ThreadMessage"]


class BounceMark(_Model):
    """A hard bounce of mail to one of a person's addresses: automatic mail to it is held back
    until an admin clears the mark (docs/features.md)."""

    address: str = Field(description="The lower-cased address that bounced.")
    code: str = Field(default="", description="Status code of the bounce, e.g. 5.1.1 or 550.")
    reason: str = Field(default="", description="Diagnostic text of the bounce, shortened.")
    at: AwareDatetime = Field(default_factory=utcnow, description="When the bounce came in.")
    item_id: str | None = Field(default=None, description="The item whose mail bounced.")


class Person(_Model):
    """A customer, user or contact that mail can be related to by address."""

    id: str
    kind: Literal["customer", "user", "contact"]
    name: str = ""
    emails: list[str] = Field(min_length=1, description="Lower-cased addresses.")
    bounce: BounceMark | None = Field(
        default=None, description="Set by a hard bounce; cleared by an admin."
    )
    created_at: AwareDatetime = Field(default_factory=utcnow)


class Party(_Model):
    address: str
    name: str = ""


class Item(_Model):
    """A work item: created from mail, worked on through the API and item commands."""

    id: str
    item_type: ItemType
    number: int = Field(ge=1)
    project: str
    account_id: str
    title: str
    description: str = ""
    status: str = "new"
    requester: Party | None = None
    participants: list[str] = Field(
        default_factory=list, description="Lower-cased addresses allowed to thread by token."
    )
    message_count: int = 0
    workflow_id: str | None = None
    workflow_step: str | None = None
    bounced: list[str] = Field(
        default_factory=list, description="Recipients whose copy of this item's mail bounced."
    )
    priority: str | None = None
    fields: dict[str, str] = Field(default_factory=dict, description="Custom field values.")
    requester_id: str | None = Field(default=None, description="Customer/user/contact id.")
    creator_id: str | None = Field(
        default=None, description="User the item was created for (the account's creator)."
    )
    assignee_id: str | None = Field(default=None, description="User working on the item.")
    version: int = Field(
        default=1, ge=1, description="Grows by one with every change (optimistic concurrency)."
    )
    notify: list[str] = Field(default_factory=list, description="Notification list (addresses).")
    notify_on_create: bool = True
    created_at: AwareDatetime = Field(default_factory=utcnow)
    updated_at: AwareDatetime = Field(default_factory=utcnow)

    @property
    def token(self) -> str:
        return f"{TOKEN_PREFIXES[self.item_type]}-{self.number}"


class StoredAttachment(_Model):
    """An attachment saved with a thread message; its bytes are in the blob store."""

    filename: str
    content_type: str
    size: int
    sha256: str
    content_id: str = ""
    inline: bool = False
    blob_ref: str


class ThreadMessage(_Model):
    """One inbound or outbound mail on an item's thread, or an internal note (never mailed)."""

    key: str = Field(
        description="Mail key (inbound), 'out:<event id>' (sent by Postroom), or"
        " 'cmd:<command id>' (a note or team reply added by a command)."
    )
    item_id: str
    account_id: str
    direction: Literal["in", "out", "note"]
    message_id: str = ""
    in_reply_to: list[str] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)
    subject: str = ""
    sender: Party | None = None
    to: list[Party] = Field(default_factory=list)
    cc: list[Party] = Field(default_factory=list)
    date: AwareDatetime | None = None
    text: str = ""
    html: str | None = Field(default=None, description="Sanitised HTML (remote content blocked).")
    reply_text: str = ""
    attachments: list[StoredAttachment] = Field(default_factory=list)
    kind: str = Field(
        default="normal",
        description="Inbound: the mail's kind; out: auto_reply, notification or team_reply;"
        " note: note.",
    )
    author_id: str | None = Field(
        default=None, description="Who wrote a note or team reply (person, API key or service)."
    )
    blob_ref: str | None = None
    created_at: AwareDatetime = Field(default_factory=utcnow)
