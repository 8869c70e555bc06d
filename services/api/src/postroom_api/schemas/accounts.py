"""Email accounts as an admin writes them (`*In`, `*Patch`): every setting, the secrets
write-only (accepted here, stored encrypted, shown by `account_views` only as `*_set` flags).
The OAuth client part is `oauth.OAuthIn`."""

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from postroom_api.schemas.common import Address, Host, Id, In, Name, Secret
from postroom_api.schemas.oauth import OAuthIn
from postroom_shared.models import (
    MAIL_BYTES_CEILING,
    AfterRead,
    ItemType,
    MailBytesLimit,
    MailSource,
    PollIntervalS,
    Provider,
    Security,
)

__all__ = [
    "AccountIn",
    "AccountPatch",
    "AutoReplyIn",
    "CopyIn",
    "ItemsFromMailIn",
    "MailboxIn",
    "NotificationsIn",
    "ReplyActionsIn",
]

_FieldName = Annotated[
    str,
    StringConstraints(
        max_length=70,
        pattern=r"^(title|description|requester|created_date|fields\.[a-z][a-z0-9_]{0,62})$",
    ),
]
_DefaultName = Annotated[
    str,
    StringConstraints(max_length=70, pattern=r"^(status|priority|fields\.[a-z][a-z0-9_]{0,62})$"),
]
_Value = Annotated[str, StringConstraints(max_length=1000)]
_Folder = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class MailboxIn(In):
    """Where and how the fetcher reads the mailbox (IMAP or POP3; for microsoft and google the
    provider's IMAP server, logged in with OAuth)."""

    host: Host | None = Field(
        default=None,
        description="IMAP/POP3 server. Required for imap and pop3; defaults to"
        " outlook.office365.com (microsoft) and imap.gmail.com (google).",
    )
    port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Default from provider and security: 993 (IMAP, TLS), 143 (IMAP),"
        " 995 (POP3, TLS), 110 (POP3).",
    )
    security: Security = Field(
        default=Security.TLS, description="none, starttls or tls (implicit TLS, the default)."
    )
    verify_tls: bool = Field(
        default=True, description="Verify the server certificate; turn off only for tests."
    )
    username: Annotated[str, StringConstraints(min_length=1, max_length=320)] = Field(
        description="Login name (for microsoft and google: the mailbox address)."
    )
    password: Secret | None = Field(
        default=None,
        description="Write-only, stored encrypted. Omitted on update: the stored one is kept"
        " only while provider, host, port, security, verify_tls and username stay the same;"
        " otherwise it is required again. Not used by microsoft and google.",
    )
    folder: _Folder = Field(
        default="INBOX",
        description="IMAP folder to read (see GET /v1/accounts/{id}/folders). POP3: INBOX.",
    )


class AutoReplyIn(In):
    """Auto-replies (docs/features.md F5)."""

    enabled: bool = Field(default=True, description="Send an auto-reply to new mail.")
    send_to_cc: bool = Field(default=False, description="Also send it to CC recipients.")
    first_mail_only: bool = Field(
        default=True, description="Do not auto-reply to the same thread (first mail only)."
    )
    template_id: Id | None = Field(
        default=None, description="Notification template of the reply; null: built-in."
    )
    honour_reply_to: bool = Field(
        default=False,
        description="Answer Reply-To even when its domain differs from From's (default: reply"
        " to From, or to Reply-To only within From's domain).",
    )


class ReplyActionsIn(In):
    """What a new mail on an existing item does to it (docs/features.md F4)."""

    change_status_to: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = (
        Field(default=None, description="Set the item's status, e.g. 'open'; null: unchanged.")
    )
    move_workflow_step: bool = Field(
        default=False,
        description="Move the item to the step its current workflow step names for 'new email"
        " on an existing item' (needs workflow_id).",
    )


class NotificationsIn(In):
    """Templates of item notifications per event, and of the team's replies; null: the
    built-in one (new items and new mail fall back to `notification_template_id` first)."""

    item_created: Id | None = Field(default=None, description="A new item from mail.")
    mail_update: Id | None = Field(default=None, description="New mail on an item.")
    status_changed: Id | None = Field(default=None, description="Status or workflow step.")
    team_reply: Id | None = Field(default=None, description="The team replied by mail.")
    team_reply_mail: Id | None = Field(
        default=None, description="The team's reply itself (their text inside it)."
    )


class ItemsFromMailIn(In):
    """How mail becomes an item (docs/features.md F3)."""

    field_mapping: dict[_FieldName, MailSource] | None = Field(
        default=None,
        max_length=50,
        description="Item field -> mail source; null: subject -> title, body -> description,"
        " sender -> requester, received_date -> created_date.",
    )
    defaults: dict[_DefaultName, _Value] = Field(
        default_factory=dict,
        max_length=50,
        description="'Change value to' for new items: status, priority or fields.<name>.",
    )
    save_attachments: bool = Field(default=True, description="Store attachments on the item.")
    add_sender_to_notifications: bool = Field(
        default=False, description="Put the sender on a new item's notification list."
    )
    map_sender: bool = Field(
        default=True, description="Relate the sender to a known customer or user by address."
    )
    unknown_sender: Literal["create_contact", "anonymous"] = Field(
        default="create_contact",
        description="An unknown sender becomes a contact, or stays an anonymous requester.",
    )
    no_separate_notification_for_new: bool = Field(
        default=True,
        description="For new items, no separate 'created' notification (the auto-reply told"
        " the sender).",
    )


class AccountIn(In):
    """Every setting of an email account (docs/features.md F2-F5). PUT replaces all of them:
    omitted fields take the defaults shown; omitted secrets keep the stored ones."""

    name: Name = Field(description="Unique account name.")
    address: Address = Field(
        description="The account's own address: From of its auto-replies and notifications,"
        " so replies come back into this account."
    )
    provider: Provider = Field(
        default="imap",
        description="imap, pop3, microsoft (OAuth 2.0 + IMAP), google (OAuth 2.0 + IMAP), or"
        " push (mail delivered by an MTA pipe or HTTP).",
    )
    active: bool = Field(
        default=False,
        description="Fetch mail. Off by default: all mail already in the folder is imported on"
        " activation; check GET /v1/accounts/{id}/waiting first.",
    )
    mailbox: MailboxIn | None = Field(
        default=None, description="Required for imap, pop3, microsoft and google; not for push."
    )
    oauth: OAuthIn | None = Field(
        default=None, description="Required for microsoft and google; not allowed otherwise."
    )
    after_read: AfterRead = Field(
        default=AfterRead.DELETE,
        description="delete (recommended), mark_read (IMAP only) or leave_unread.",
    )
    poll_interval_s: PollIntervalS = 60.0
    use_idle: bool = Field(default=True, description="IMAP IDLE when the server offers it.")
    max_mail_bytes: MailBytesLimit = Field(
        default=MAIL_BYTES_CEILING,
        description="Larger mail is quarantined with its headers, never downloaded whole;"
        " pushed mail over it is refused (413). At most 25 MiB, and POSTROOM_MAX_MAIL_BYTES"
        " caps it for the whole deployment.",
    )
    tell_sender_when_too_large: bool = Field(
        default=True, description="Tell the sender when their mail was too large."
    )
    item_type: ItemType = Field(
        default=ItemType.INCIDENT, description="The one item type this account creates."
    )
    project: Name = Field(description="Project of new items (required).")
    creator: Id | None = Field(
        default=None, description="Id of the user (GET /v1/people?kind=user) listed as creator."
    )
    auto_reply: AutoReplyIn = Field(default_factory=AutoReplyIn)
    on_reply: ReplyActionsIn = Field(default_factory=ReplyActionsIn)
    items: ItemsFromMailIn = Field(default_factory=ItemsFromMailIn)
    workflow_id: Id | None = Field(
        default=None, description="Workflow of new items; they start in its first step."
    )
    notifications: NotificationsIn = Field(default_factory=NotificationsIn)
    notification_template_id: Id | None = Field(
        default=None, description="Template of item notifications; null: built-in."
    )


class AccountPatch(In):
    """Change some settings: the given fields are merged into the stored account (objects field
    by field, lists and values replaced), then validated like a PUT."""

    name: Name | None = None
    address: Address | None = None
    provider: Provider | None = None
    active: bool | None = None
    mailbox: dict[str, object] | None = Field(
        default=None, description="Fields of `mailbox` to change (see AccountIn)."
    )
    oauth: dict[str, object] | None = Field(
        default=None, description="Fields of `oauth` to change (see AccountIn)."
    )
    after_read: AfterRead | None = None
    poll_interval_s: PollIntervalS | None = None
    use_idle: bool | None = None
    max_mail_bytes: MailBytesLimit | None = None
    tell_sender_when_too_large: bool | None = None
    item_type: ItemType | None = None
    project: Name | None = None
    creator: Id | None = None
    auto_reply: dict[str, object] | None = None
    on_reply: dict[str, object] | None = None
    items: dict[str, object] | None = None
    workflow_id: Id | None = None
    notification_template_id: Id | None = None
    notifications: dict[str, object] | None = None


class CopyIn(In):
    name: Name | None = Field(
        default=None, description="Name of the copy; default '<name> (copy)'."
    )
