"""The pieces events and commands point at: addresses, mail, items, actors and blobs."""

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from postroom_shared.contracts.envelope import MailKind, _Frozen

if TYPE_CHECKING:  # models are not imported at run time: the contracts stand alone
    from postroom_shared.models import Item

__all__ = [
    "ActorV1",
    "AddressV1",
    "AttachmentRefV1",
    "ClassificationV1",
    "ItemRefV1",
    "MessageRefV1",
    "item_ref",
]


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
    creator_id: str | None = Field(
        default=None, description="The user the item was created for (the account's creator)."
    )
    requester_id: str | None = Field(
        default=None, description="The person (customer, user or contact) who asked."
    )
    assignee_id: str | None = Field(default=None, description="The user working on it.")


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
        creator_id=item.creator_id,
        requester_id=item.requester_id,
        assignee_id=item.assignee_id,
    )


class ActorV1(_Frozen):
    """Who caused a change: a person through the API, an API key, a service, or a mail."""

    kind: Literal["user", "api_key", "service", "mail"]
    id: str = Field(
        description="Person id (user), API key id, service name, or sender address (mail).",
        examples=["usr_2b7c", "key_9f1e", "tracker-sync", "customer@example.test"],
    )
    name: str = Field(default="", description="Display name, when known.")


class AttachmentRefV1(_Frozen):
    """A file a command carries by reference: its bytes are in the blob store already."""

    blob_ref: str = Field(description="Blob store reference of the bytes.")
    filename: str = Field(min_length=1, max_length=255, examples=["screenshot.png"])
    content_type: str = Field(default="application/octet-stream", examples=["image/png"])
