"""Items and their threads as the API shows them (read-only)."""

import hashlib
import re
from datetime import datetime
from urllib.parse import unquote

from pydantic import BaseModel, Field

from postroom_api.schemas.common import View
from postroom_shared.models import Item, ItemType, Party, StoredAttachment, ThreadMessage

__all__ = [
    "AttachmentView",
    "ItemDetail",
    "ItemPage",
    "ItemSummary",
    "MessageView",
    "message_ref",
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


class MessageView(View):
    id: str = Field(description="Id of the message on this item (for the download URLs).")
    mail_key: str = Field(description="Mail key (inbound) as in the processing log.")
    direction: str = Field(description="in (received) or out (sent by Postroom).")
    message_id: str
    in_reply_to: list[str]
    references: list[str]
    subject: str
    sender: Party | None
    to: list[Party]
    cc: list[Party]
    date: datetime | None
    kind: str = Field(examples=["normal", "auto_reply", "out_of_office", "bounce"])
    text: str
    html: str | None = Field(
        description="Sanitised HTML (remote content blocked, inline images linked)."
    )
    reply_text: str = Field(description="The new text of a reply, without the quote.")
    attachments: list[AttachmentView]
    raw_url: str | None = Field(description="The raw mail (.eml); null when not stored.")
    created_at: datetime

    @classmethod
    def of(cls, message: ThreadMessage, item_url: str) -> "MessageView":
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
        )


class ItemDetail(ItemSummary):
    description: str
    priority: str | None
    fields: dict[str, str]
    requester_id: str | None
    notify: list[str] = Field(description="Notification list (addresses).")
    participants: list[str]
    bounced: list[str]
    workflow_id: str | None
    workflow_step: str | None
    thread: list[MessageView]

    @classmethod
    def with_thread(cls, item: Item, messages: list[ThreadMessage], item_url: str) -> "ItemDetail":
        return cls.read(
            item,
            type=item.item_type,
            messages=item.message_count,
            thread=[MessageView.of(m, item_url) for m in messages],
        )
