"""Email accounts as the API shows them (`*View`): every setting, secrets only as `*_set`
flags; and the account's connection state as the fetcher and the replier last wrote it."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from postroom_api.schemas.common import View
from postroom_api.schemas.oauth import OAuthView
from postroom_shared.models import (
    AccountState,
    AfterRead,
    EmailAccount,
    ItemType,
    MailboxSettings,
    Provider,
    Security,
)

__all__ = [
    "AccountStateView",
    "AccountView",
    "AutoReplyView",
    "ItemsFromMailView",
    "LoopBreakerView",
    "MailboxView",
    "ReplyActionsView",
]


class MailboxView(View):
    host: str
    port: int
    security: Security
    verify_tls: bool
    username: str
    folder: str
    password_set: bool = Field(description="A password is stored (it is never returned).")

    @classmethod
    def of(cls, box: MailboxSettings) -> "MailboxView":
        return cls.read(box, password_set=bool(box.password_enc))


class AutoReplyView(BaseModel):
    enabled: bool
    send_to_cc: bool
    first_mail_only: bool
    template_id: str | None
    honour_reply_to: bool


class ReplyActionsView(BaseModel):
    change_status_to: str | None
    move_workflow_step: bool


class ItemsFromMailView(BaseModel):
    field_mapping: dict[str, str]
    defaults: dict[str, str]
    save_attachments: bool
    add_sender_to_notifications: bool
    map_sender: bool
    unknown_sender: str
    no_separate_notification_for_new: bool


class NotificationsView(BaseModel):
    item_created: str | None
    mail_update: str | None
    status_changed: str | None
    team_reply: str | None
    team_reply_mail: str | None


class AccountView(View):
    id: str
    name: str
    address: str
    provider: Provider
    active: bool
    mailbox: MailboxView | None
    oauth: OAuthView | None
    after_read: AfterRead
    poll_interval_s: float
    use_idle: bool
    max_mail_bytes: int
    tell_sender_when_too_large: bool
    item_type: ItemType
    project: str
    creator: str | None
    auto_reply: AutoReplyView
    on_reply: ReplyActionsView
    items: ItemsFromMailView
    workflow_id: str | None
    notification_template_id: str | None
    notifications: NotificationsView
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, account: EmailAccount) -> "AccountView":
        return cls.read(
            account,
            mailbox=MailboxView.of(account.mailbox) if account.mailbox else None,
            oauth=OAuthView.of(account.oauth) if account.oauth else None,
            auto_reply=account.auto_reply.model_dump(),
            on_reply=account.on_reply.model_dump(),
            notifications=account.notifications.model_dump(),
            items=account.items.model_dump(),
        )


class LoopBreakerView(BaseModel):
    """An address the replier stopped auto-replying to: it got auto-replies to several new
    items within minutes (a mail loop with an auto-responder, or a flood)."""

    recipient: str
    tripped_at: datetime = Field(description="The auto-reply that completed the series.")
    until: datetime = Field(description="Auto-replies to it resume after this.")
    items: int = Field(description="New items answered within the window.")


class AccountStateView(View):
    """How fetching goes, as the fetcher last wrote it, and the replier's active loop breakers."""

    account_id: str
    status: Literal["ok", "error", "needs_reauth", "unknown"] = Field(
        description="unknown: the fetcher has not reported on this account yet."
    )
    needs_reauthorisation: bool = Field(
        description="An admin must sign in again (POST .../oauth/start)."
    )
    error_kind: str | None = None
    last_error: str | None = None
    since: datetime | None = Field(default=None, description="First failure of this run.")
    next_attempt: datetime | None = None
    failures: int = 0
    last_success: datetime | None = None
    mode: str | None = None
    updated_at: datetime | None = None
    loop_breakers: list[LoopBreakerView] = Field(
        default_factory=list,
        description="Addresses this account's auto-replies are silent to for now (loop breaker).",
    )

    @classmethod
    def of(cls, account_id: str, state: AccountState | None) -> "AccountStateView":
        if state is None:
            return cls(account_id=account_id, status="unknown", needs_reauthorisation=False)
        return cls.read(
            state, account_id=account_id, needs_reauthorisation=state.status == "needs_reauth"
        )
