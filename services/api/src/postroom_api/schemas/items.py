"""Items and their threads as the API shows them: who asked, who works on it, its version (for
If-Match), its notification list; on the thread, internal notes and the team's replies with
what became of their mail (the replier's ledger)."""

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Literal
from urllib.parse import unquote

from pydantic import BaseModel, Field

from postroom_api.schemas.common import View
from postroom_shared.models import (
    Item,
    ItemType,
    LedgerEntry,
    Party,
    StoredAttachment,
    ThreadMessage,
)

__all__ = [
    "AttachmentView",
    "DeliveryView",
    "ItemDetail",
    "ItemPage",
    "ItemState",
    "ItemSummary",
    "MessageView",
    "message_ref",
    "recipients",
]


def message_ref(message: ThreadMessage) -> str:
    """The URL-safe id of a thread message (its mail key contains slashes)."""
    return "m_" + hashlib.sha256(message.key.encode()).hexdigest()[:24]


class ItemSummary(View):
    id: str
    number: int
    type: ItemType
    token: str = Field(examples=["INC-1"])
    title: str
    status: str
    project: str
    account_id: str
    requester: Party | None
    assignee_id: str | None = Field(description="The user working on the item.")
    version: int = Field(description='Grows with every change; the ETag is `"v<version>"`.')
    messages: int = Field(description="Number of messages on the thread.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, item: Item) -> "ItemSummary":
        return cls.read(item, type=item.item_type, messages=item.message_count)


class ItemPage(BaseModel):
    items: list[ItemSummary]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class AttachmentView(View):
    index: int
    filename: str
    content_type: str
    size: int
    sha256: str
    content_id: str
    inline: bool
    download_url: str

    @classmethod
    def of(cls, attachment: StoredAttachment, index: int, base: str) -> "AttachmentView":
        return cls.read(attachment, index=index, download_url=f"{base}/attachments/{index}")


_CID_RE = re.compile(r"""(["'])cid:([^"']{1,500})\1""", re.IGNORECASE)


def _link_inline_images(html: str, urls: dict[str, str]) -> str:
    """`cid:` references to this message's attachments become their download URLs."""

    def swap(match: re.Match[str]) -> str:
        cid = unquote(match.group(2)).strip().strip("<>").lower()
        url = urls.get(cid)
        return f"{match.group(1)}{url}{match.group(1)}" if url else match.group(0)

    return _CID_RE.sub(swap, html) if urls else html


class DeliveryView(BaseModel):
    """What became of a team reply's mail to one recipient."""

    recipient: str
    state: Literal["pending", "sending", "sent", "failed"] = Field(
        description="pending: not handed to the replier's SMTP session yet; failed: refused"
        " for good (see the processing log)."
    )
    sent_at: datetime | None

    @classmethod
    def of(cls, recipient: str, entry: LedgerEntry | None) -> "DeliveryView":
        if entry is None:
            return cls(recipient=recipient, state="pending", sent_at=None)
        return cls(recipient=recipient, state=entry.state, sent_at=entry.sent_at)


def recipients(message: ThreadMessage) -> list[str]:
    """Whom a team reply is mailed to, once each, as the replier keys its ledger."""
    return list(dict.fromkeys(p.address.lower() for p in [*message.to, *message.cc]))


Deliveries = Mapping[str, list[DeliveryView]]
"""Thread key -> the delivery of each recipient of that team reply."""


class MessageView(View):
    id: str = Field(description="Id of the message on this item (for the download URLs).")
    mail_key: str = Field(description="Mail key (inbound) as in the processing log.")
    direction: Literal["in", "out", "note"] = Field(
        description="in (received), out (sent by Postroom: automatic mail or a team reply),"
        " note (internal, never mailed)."
    )
    message_id: str
    in_reply_to: list[str]
    references: list[str]
    subject: str
    sender: Party | None
    to: list[Party]
    cc: list[Party]
    date: datetime | None
    kind: str = Field(
        examples=["normal", "auto_reply", "out_of_office", "bounce", "team_reply", "note"]
    )
    author_id: str | None = Field(
        description="Who wrote a note or team reply (person, API key or service id)."
    )
    text: str
    html: str | None = Field(
        description="Sanitised HTML (remote content blocked, inline images linked)."
    )
    reply_text: str = Field(description="The new text of a reply, without the quote.")
    attachments: list[AttachmentView]
    raw_url: str | None = Field(description="The raw mail (.eml); null when not stored.")
    delivery: list[DeliveryView] | None = Field(
        description="Team replies: its mail to each recipient; null for other messages."
    )
    created_at: datetime

    @classmethod
    def of(
        cls, message: ThreadMessage, item_url: str, deliveries: Deliveries | None = None
    ) -> "MessageView":
        ref = message_ref(message)
        base = f"{item_url}/messages/{ref}"
        attachments = [
            AttachmentView.of(a, index, base) for index, a in enumerate(message.attachments)
        ]
        urls = {a.content_id.lower(): a.download_url for a in attachments if a.content_id}
        return cls.read(
            message,
            id=ref,
            mail_key=message.key,
            html=_link_inline_images(message.html, urls) if message.html else None,
            attachments=attachments,
            raw_url=f"{base}/raw" if message.blob_ref else None,
            delivery=(deliveries or {}).get(message.key),
        )


class ItemState(ItemSummary):
    """An item without its thread: what a write answers."""

    description: str
    priority: str | None
    fields: dict[str, str]
    requester_id: str | None = Field(description="The person (customer, user, contact) who asked.")
    creator_id: str | None = Field(description="The user the item was created for.")
    notify: list[str] = Field(description="Notification list (addresses).")
    participants: list[str]
    bounced: list[str]
    workflow_id: str | None
    workflow_step: str | None

    @classmethod
    def of(cls, item: Item) -> "ItemState":
        return cls.read(item, type=item.item_type, messages=item.message_count)


class ItemDetail(ItemState):
    thread: list[MessageView]

    @classmethod
    def with_thread(
        cls,
        item: Item,
        messages: list[ThreadMessage],
        item_url: str,
        deliveries: Deliveries | None = None,
    ) -> "ItemDetail":
        return cls.read(
            item,
            type=item.item_type,
            messages=item.message_count,
            thread=[MessageView.of(m, item_url, deliveries) for m in messages],
        )
