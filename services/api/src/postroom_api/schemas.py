"""What the API returns: views of stored models without secrets or internals."""

from pydantic import AwareDatetime, BaseModel

from postroom_shared.models import (
    AfterRead,
    AutoReplySettings,
    EmailAccount,
    Item,
    ItemType,
    Party,
    Security,
    ThreadMessage,
)

__all__ = ["AccountView", "ItemDetail", "ItemSummary", "MessageView"]


class ItemSummary(BaseModel):
    id: str
    number: int
    type: ItemType
    token: str
    title: str
    status: str
    project: str
    requester: Party | None
    messages: int
    created_at: AwareDatetime
    updated_at: AwareDatetime

    @classmethod
    def of(cls, item: Item) -> "ItemSummary":
        return cls(
            id=item.id,
            number=item.number,
            type=item.item_type,
            token=item.token,
            title=item.title,
            status=item.status,
            project=item.project,
            requester=item.requester,
            messages=item.message_count,
            created_at=item.created_at,
            updated_at=item.updated_at,
        )


class MessageView(BaseModel):
    direction: str
    message_id: str
    subject: str
    sender: Party | None
    to: list[Party]
    kind: str
    text: str
    created_at: AwareDatetime

    @classmethod
    def of(cls, message: ThreadMessage) -> "MessageView":
        return cls(
            direction=message.direction,
            message_id=message.message_id,
            subject=message.subject,
            sender=message.sender,
            to=message.to,
            kind=message.kind,
            text=message.text,
            created_at=message.created_at,
        )


class ItemDetail(ItemSummary):
    description: str
    thread: list[MessageView]


class MailboxView(BaseModel):
    host: str
    port: int
    security: Security
    verify_tls: bool
    username: str
    folder: str
    password_set: bool


class AccountView(BaseModel):
    id: str
    name: str
    address: str
    provider: str
    active: bool
    mailbox: MailboxView | None
    after_read: AfterRead
    poll_interval_s: float
    item_type: ItemType
    project: str
    auto_reply: AutoReplySettings

    @classmethod
    def of(cls, account: EmailAccount) -> "AccountView":
        box = account.mailbox
        return cls(
            id=account.id,
            name=account.name,
            address=account.address,
            provider=account.provider,
            active=account.active,
            mailbox=None
            if box is None
            else MailboxView(
                host=box.host,
                port=box.port,
                security=box.security,
                verify_tls=box.verify_tls,
                username=box.username,
                folder=box.folder,
                password_set=bool(box.password_enc),
            ),
            after_read=account.after_read,
            poll_interval_s=account.poll_interval_s,
            item_type=account.item_type,
            project=account.project,
            auto_reply=account.auto_reply,
        )
