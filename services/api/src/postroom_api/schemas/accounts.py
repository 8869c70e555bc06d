"""Email accounts over HTTP: what an admin writes (`*In`, `*Patch`) and what the API shows
(`*View`). Secrets are write-only: accepted in the input models, shown only as `*_set` flags."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from postroom_api.schemas.common import (
    Address,
    Host,
    HttpsUrl,
    Id,
    In,
    Name,
    Secret,
    Url,
)
from postroom_shared.models import (
    MAIL_BYTES_CEILING,
    AccountState,
    AfterRead,
    EmailAccount,
    ItemType,
    MailboxSettings,
    MailBytesLimit,
    MailSource,
    OAuthSettings,
    PollIntervalS,
    Provider,
    Security,
)

__all__ = [
    "AccountIn",
    "AccountPatch",
    "AccountStateView",
    "AccountView",
    "AutoReplyIn",
    "CopyIn",
    "FoldersView",
    "ItemsFromMailIn",
    "MailboxErrorView",
    "MailboxIn",
    "MailboxView",
    "OAuthDoneView",
    "OAuthIn",
    "OAuthStartIn",
    "OAuthStartView",
    "OAuthView",
    "RefreshView",
    "ReplyActionsIn",
    "WaitingView",
]

_Scope = Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=r"^[!-~]+$")]
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


# -- input ------------------------------------------------------------------------------------


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


class OAuthIn(In):
    """The OAuth 2.0 client of a microsoft or google account."""

    flow: Literal["authorization_code", "client_credentials"] = Field(
        default="authorization_code",
        description="authorization_code: an admin signs in (POST .../oauth/start);"
        " client_credentials: Microsoft app-only access (needs client_secret).",
    )
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=500)] = Field(
        description="Application (client) id registered with the provider."
    )
    client_secret: Secret | None = Field(
        default=None,
        description="Write-only, stored encrypted. Omitted on update: the stored one is kept"
        " only while the provider, the mailbox server and login, the client id, tenant and"
        " endpoints stay the same; otherwise it is required again.",
    )
    tenant: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,200}$")] = Field(
        default="common", description="Microsoft tenant (id or domain)."
    )
    authority_url: HttpsUrl | None = Field(
        default=None,
        description="Microsoft authority override (sovereign clouds, tests); https only.",
    )
    token_url: HttpsUrl | None = Field(
        default=None, description="Google token endpoint override; https only."
    )
    auth_url: HttpsUrl | None = Field(
        default=None, description="Google authorisation endpoint override; https only."
    )
    scopes: list[_Scope] = Field(
        default_factory=list,
        max_length=20,
        description="Empty: the provider's mail scopes (Google: the full mail scope).",
    )
    redirect_uri: Url | None = Field(
        default=None,
        description="Callback URL registered with the provider; default: this API's"
        " /oauth/callback as the request reached it.",
    )
    refresh_token: Secret | None = Field(
        default=None,
        description="Write-only. Normally stored by the OAuth callback; omitted on update: kept"
        " only while the provider, the mailbox server and login, the client, its endpoints,"
        " flow and scopes stay the same; otherwise dropped (sign in again).",
    )
    mechanism: Literal["xoauth2", "oauthbearer"] = Field(
        default="xoauth2", description="SASL mechanism for the IMAP login."
    )


class AutoReplyIn(In):
    """Auto-replies (SPEC F5)."""

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
    """What a new mail on an existing item does to it (SPEC F4)."""

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
    """How mail becomes an item (SPEC F3)."""

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
    """Every setting of an email account (SPEC F2-F5). PUT replaces all of them: omitted fields
    take the defaults shown; omitted secrets keep the stored ones."""

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
    notification_template_id: Id | None = Field(
        default=None, description="Template of item notifications; null: built-in."
    )
    notifications: NotificationsIn = Field(default_factory=NotificationsIn)


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


class OAuthStartIn(In):
    provider: Literal["microsoft", "google"] | None = Field(
        default=None,
        description="Only for the SMTP server's sign-in; default: google for Google hosts or"
        " endpoints, else microsoft (accounts use their own provider).",
    )
    login_hint: Address | None = Field(
        default=None, description="Account to preselect on the provider's sign-in page."
    )


# -- output -----------------------------------------------------------------------------------


class MailboxView(BaseModel):
    host: str
    port: int
    security: Security
    verify_tls: bool
    username: str
    folder: str
    password_set: bool = Field(description="A password is stored (it is never returned).")

    @classmethod
    def of(cls, box: MailboxSettings) -> "MailboxView":
        return cls(
            host=box.host,
            port=box.port,
            security=box.security,
            verify_tls=box.verify_tls,
            username=box.username,
            folder=box.folder,
            password_set=bool(box.password_enc),
        )


class OAuthView(BaseModel):
    flow: str
    client_id: str
    client_secret_set: bool
    tenant: str
    authority_url: str | None
    token_url: str | None
    auth_url: str | None
    scopes: list[str]
    redirect_uri: str | None
    refresh_token_set: bool = Field(description="Signed in: a refresh token is stored.")
    mechanism: str

    @classmethod
    def of(cls, oauth: OAuthSettings) -> "OAuthView":
        return cls(
            flow=oauth.flow,
            client_id=oauth.client_id,
            client_secret_set=bool(oauth.client_secret_enc),
            tenant=oauth.tenant,
            authority_url=oauth.authority_url,
            token_url=oauth.token_url,
            auth_url=oauth.auth_url,
            scopes=list(oauth.scopes),
            redirect_uri=oauth.redirect_uri,
            refresh_token_set=bool(oauth.refresh_token_enc),
            mechanism=oauth.mechanism,
        )


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


class AccountView(BaseModel):
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
        return cls(
            id=account.id,
            name=account.name,
            address=account.address,
            provider=account.provider,
            active=account.active,
            mailbox=MailboxView.of(account.mailbox) if account.mailbox else None,
            oauth=OAuthView.of(account.oauth) if account.oauth else None,
            after_read=account.after_read,
            poll_interval_s=account.poll_interval_s,
            use_idle=account.use_idle,
            max_mail_bytes=account.max_mail_bytes,
            tell_sender_when_too_large=account.tell_sender_when_too_large,
            item_type=account.item_type,
            project=account.project,
            creator=account.creator,
            auto_reply=AutoReplyView.model_validate(account.auto_reply.model_dump()),
            on_reply=ReplyActionsView.model_validate(account.on_reply.model_dump()),
            items=ItemsFromMailView.model_validate(account.items.model_dump()),
            workflow_id=account.workflow_id,
            notification_template_id=account.notification_template_id,
            notifications=NotificationsView.model_validate(account.notifications.model_dump()),
            created_at=account.created_at,
            updated_at=account.updated_at,
        )


class LoopBreakerView(BaseModel):
    """An address the replier stopped auto-replying to: it got auto-replies to several new
    items within minutes (a mail loop with an auto-responder, or a flood)."""

    recipient: str
    tripped_at: datetime = Field(description="The auto-reply that completed the series.")
    until: datetime = Field(description="Auto-replies to it resume after this.")
    items: int = Field(description="New items answered within the window.")


class AccountStateView(BaseModel):
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
        return cls(
            account_id=account_id,
            status=state.status,
            needs_reauthorisation=state.status == "needs_reauth",
            error_kind=state.error_kind,
            last_error=state.last_error,
            since=state.since,
            next_attempt=state.next_attempt,
            failures=state.failures,
            last_success=state.last_success,
            mode=state.mode,
            updated_at=state.updated_at,
        )


class FoldersView(BaseModel):
    folders: list[str] = Field(description="Folder names as the server lists them (decoded).")


class WaitingView(BaseModel):
    waiting: int = Field(description="Messages that activating the account would import.")


class RefreshView(BaseModel):
    ok: bool = Field(description="The connection test passed.")
    error: str | None = Field(default=None, description="Why not, naming the cause.")
    error_kind: str | None = Field(
        default=None, examples=["auth", "tls", "folder", "network", "consent_revoked"]
    )
    fetch_requested: bool = Field(
        description="The fetcher was asked to poll now (active accounts, connection ok)."
    )


class MailboxErrorView(BaseModel):
    detail: str = Field(description="What failed, naming the cause (and what to do).")
    error_kind: str = Field(
        examples=["auth", "tls", "folder", "network", "consent_revoked", "rate_limited"]
    )
    permanent: bool = Field(description="False: trying again later may succeed.")


class OAuthDoneView(BaseModel):
    owner: str = Field(description="The account id, or 'smtp', whose sign-in is now stored.")
    detail: str


class OAuthStartView(BaseModel):
    authorization_url: str = Field(
        description="The sign-in link: open it in the browser that signs in. It binds the"
        " sign-in to that browser (a cookie), then sends it to the identity provider."
    )
    redirect_uri: str = Field(description="Where the provider sends the browser back.")
