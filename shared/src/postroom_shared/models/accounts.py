"""Stored configuration: email accounts, their mailbox, OAuth and SMTP settings, auto-reply and
item rules, workflows and notification templates. Secrets only in encrypted form (`*_enc`)."""

import re
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator

from postroom_shared.mail.ceiling import MAIL_BYTES_CEILING
from postroom_shared.models.base import AfterRead, ItemType, Security, _Model, utcnow
from postroom_shared.models.notifications import NotificationSettings

__all__ = [
    "DEFAULT_FIELD_MAPPING",
    "MAIL_BYTES_CEILING",
    "AutoReplySettings",
    "EmailAccount",
    "ItemFromMail",
    "MailBytesLimit",
    "MailSource",
    "MailboxSettings",
    "NotificationTemplate",
    "OAuthClient",
    "OAuthSettings",
    "PollIntervalS",
    "Provider",
    "ReplyActions",
    "SmtpAuth",
    "SmtpSettings",
    "Workflow",
    "WorkflowStep",
    "mail_size_limit",
]


class MailboxSettings(_Model):
    """Where and how the fetcher reads an account's mailbox (IMAP or POP3; for Microsoft and
    Google accounts the IMAP server of the provider, logged in with XOAUTH2/OAUTHBEARER)."""

    host: str
    port: int = Field(ge=1, le=65535)
    security: Security = Security.TLS
    verify_tls: bool = True
    username: str
    password_enc: str | None = Field(default=None, description="Encrypted; never returned.")
    folder: str = "INBOX"


Provider = Literal["imap", "pop3", "microsoft", "google", "push"]
# Bounds of account settings, shared by the stored model and the API's input shapes.
PollIntervalS = Annotated[float, Field(ge=1.0, le=86_400.0)]
MailBytesLimit = Annotated[int, Field(ge=1024, le=MAIL_BYTES_CEILING)]


def mail_size_limit(account_max: int, deployment_max: int) -> int:
    """The size limit of one account's mail: its own, within the deployment's and the ceiling."""
    return min(account_max, deployment_max, MAIL_BYTES_CEILING)


class OAuthClient(_Model):
    """The OAuth 2.0 client of an account (or of the SMTP server) without its secrets: which
    registered app signs in where, for which scopes. Microsoft through msal, Google through
    google-auth; the URLs default to the providers' own and are settings so tests (and
    sovereign clouds) can point them elsewhere.

    The one definition of this shape: the stored settings add the encrypted secrets, the API's
    input adds them in clear (and narrows what a client may send), its view adds `*_set` flags.
    """

    flow: Literal["authorization_code", "client_credentials"] = Field(
        default="authorization_code",
        description="authorization_code: a person signs in once (POST .../oauth/start) and the"
        " refresh token is kept; client_credentials: Microsoft app-only access (needs"
        " client_secret).",
    )
    client_id: str = Field(
        min_length=1,
        max_length=500,
        description="Application (client) id registered with the provider.",
    )
    tenant: str = Field(
        default="common", max_length=200, description="Microsoft tenant (id or domain)."
    )
    authority_url: str | None = Field(
        default=None, description="Microsoft authority override, e.g. https://login.example/t."
    )
    token_url: str | None = Field(default=None, description="Google token endpoint override.")
    auth_url: str | None = Field(
        default=None, description="Google authorisation endpoint override."
    )
    scopes: list[str] = Field(
        default_factory=list, description="Empty: the provider's mail scopes."
    )
    redirect_uri: str | None = None
    mechanism: Literal["xoauth2", "oauthbearer"] = Field(
        default="xoauth2", description="SASL mechanism for the IMAP login."
    )

    def client_fields(self) -> dict[str, Any]:
        """This client's fields (of `OAuthClient`, none of a subclass's secrets)."""
        return self.model_dump(include=set(OAuthClient.model_fields))


class OAuthSettings(OAuthClient):
    """The stored OAuth settings: the client and its secrets, encrypted (`secretbox`)."""

    client_secret_enc: str | None = Field(default=None, description="Encrypted; never returned.")
    refresh_token_enc: str | None = Field(default=None, description="Encrypted; never returned.")


class AutoReplySettings(_Model):
    enabled: bool = True
    send_to_cc: bool = False
    first_mail_only: bool = True
    template_id: str | None = Field(
        default=None, description="Notification template of the reply; None = built-in."
    )
    honour_reply_to: bool = Field(
        default=False,
        description="Answer Reply-To even when its domain differs from From's (default: only"
        " within From's domain; forged mail must not aim Postroom at any address).",
    )


class NotificationTemplate(_Model):
    """An editable mail template (Jinja2, sandboxed) with `item`, `account` and `message`."""

    id: str
    name: str = Field(min_length=1, max_length=200)
    subject: str = Field(default="{{ item.token_brackets }} {{ message.subject }}", max_length=1000)
    text: str = Field(min_length=1, max_length=100_000)
    html: str | None = Field(default=None, max_length=200_000)


class ReplyActions(_Model):
    """What a new mail on an existing item does to it (docs/features.md F4). Out-of-office replies
    and bounces never trigger these."""

    change_status_to: str | None = Field(
        default=None, max_length=100, description="Set the item's status, e.g. 'open'."
    )
    move_workflow_step: bool = Field(
        default=False,
        description="Move the item to the step its current workflow step names for"
        " 'new email on an existing item'.",
    )


class WorkflowStep(_Model):
    name: str = Field(min_length=1, max_length=100)
    on_new_email: str | None = Field(
        default=None, description="Step an item moves to when a new email comes in for it."
    )


class Workflow(_Model):
    id: str
    name: str = Field(min_length=1, max_length=200)
    steps: list[WorkflowStep] = Field(min_length=1)

    def next_step_on_email(self, current: str | None) -> str | None:
        for step in self.steps:
            if step.name == current:
                return step.on_new_email
        return None


MailSource = Literal[
    "subject", "body", "reply_text", "sender", "sender_address", "sender_name",
    "received_date", "to", "cc", "message_id",
]  # fmt: skip
DEFAULT_FIELD_MAPPING: dict[str, MailSource] = {
    "title": "subject",
    "description": "body",
    "requester": "sender",
    "created_date": "received_date",
}
_ITEM_FIELD_RE = r"^(title|description|requester|created_date|fields\.[a-z][a-z0-9_]{0,62})$"


class ItemFromMail(_Model):
    """How an account's mail becomes an item (docs/features.md F3; the reference's 'Creating
    items')."""

    field_mapping: dict[str, MailSource] = Field(
        default_factory=lambda: dict(DEFAULT_FIELD_MAPPING),
        description="Item field -> mail source. Item fields: title, description, requester,"
        " created_date, fields.<name> (custom).",
    )
    defaults: dict[str, str] = Field(
        default_factory=dict,
        description="'Change value to' for new items: status, priority or fields.<name>.",
    )
    save_attachments: bool = True
    add_sender_to_notifications: bool = False
    map_sender: bool = Field(
        default=True, description="Relate the sender to a known customer or user by address."
    )
    unknown_sender: Literal["create_contact", "anonymous"] = "create_contact"
    no_separate_notification_for_new: bool = Field(
        default=True, description="The auto-reply already told the sender; no 'created' mail."
    )

    @field_validator("field_mapping")
    @classmethod
    def _known_targets(cls, value: dict[str, MailSource]) -> dict[str, MailSource]:
        for target in value:
            if not re.match(_ITEM_FIELD_RE, target):
                raise ValueError(f"unknown item field {target!r}")
        return value

    @field_validator("defaults")
    @classmethod
    def _known_defaults(cls, value: dict[str, str]) -> dict[str, str]:
        for target in value:
            if not re.match(r"^(status|priority|fields\.[a-z][a-z0-9_]{0,62})$", target):
                raise ValueError(f"no default can be set for {target!r}")
        return value


class EmailAccount(_Model):
    """One support mailbox and what its mail turns into (docs/features.md F2, F3, F5)."""

    id: str
    name: str = Field(min_length=1, max_length=200)
    address: str = Field(description="The account's own address; From of its auto-replies.")
    provider: Provider = "imap"
    active: bool = True
    mailbox: MailboxSettings | None = Field(
        default=None, description="Required for every provider except push."
    )
    oauth: OAuthSettings | None = Field(
        default=None, description="Required for the microsoft and google providers."
    )
    after_read: AfterRead = AfterRead.DELETE
    poll_interval_s: PollIntervalS = 60.0
    use_idle: bool = Field(default=True, description="IMAP IDLE when the server offers it.")
    max_mail_bytes: MailBytesLimit = Field(
        default=MAIL_BYTES_CEILING,
        description="Larger mail is quarantined with its headers, never downloaded whole.",
    )
    tell_sender_when_too_large: bool = Field(
        default=True, description="Send the sender a notice when their mail was too large."
    )
    item_type: ItemType = ItemType.INCIDENT
    project: str = Field(min_length=1)
    creator: str | None = None
    auto_reply: AutoReplySettings = Field(default_factory=AutoReplySettings)
    on_reply: ReplyActions = Field(default_factory=ReplyActions)
    items: ItemFromMail = Field(default_factory=ItemFromMail)
    workflow_id: str | None = Field(
        default=None, description="Workflow of new items; they start in its first step."
    )
    notification_template_id: str | None = Field(
        default=None, description="Template of item notifications; None = built-in."
    )
    notifications: NotificationSettings = Field(
        default_factory=NotificationSettings,
        description="Templates per notification event and of the team's replies.",
    )
    created_at: AwareDatetime = Field(default_factory=utcnow)
    updated_at: AwareDatetime = Field(default_factory=utcnow)

    @property
    def box(self) -> MailboxSettings:
        """The mailbox settings of a fetched (not push) account."""
        if self.mailbox is None:
            raise ValueError(f"account {self.name!r} ({self.provider}) has no mailbox settings")
        return self.mailbox

    @property
    def folder(self) -> str:
        return self.mailbox.folder if self.mailbox else "INBOX"

    @field_validator("max_mail_bytes", mode="before")
    @classmethod
    def _within_the_ceiling(cls, value: object) -> object:
        # stored while accounts could say up to 200 MB: read as the ceiling, not refused
        return min(value, MAIL_BYTES_CEILING) if isinstance(value, int) else value

    @model_validator(mode="after")
    def _provider_needs(self) -> "EmailAccount":
        if self.provider != "push" and self.mailbox is None:
            raise ValueError(f"provider {self.provider!r} needs mailbox settings")
        if self.provider in ("microsoft", "google") and self.oauth is None:
            raise ValueError(f"provider {self.provider!r} needs oauth settings")
        return self


SmtpAuth = Literal["none", "password", "xoauth2"]


class SmtpSettings(_Model):
    """The outbound server all automatic mail goes through (docs/features.md F1). Absent from the
    store: the deployment's built-in relay (replier settings)."""

    host: str
    port: int = Field(ge=1, le=65535)
    security: Security = Security.STARTTLS
    verify_tls: bool = True
    auth: SmtpAuth = "password"
    username: str | None = None
    password_enc: str | None = None
    oauth: OAuthSettings | None = Field(default=None, description="For auth = xoauth2.")
    oauth_provider: Literal["microsoft", "google"] | None = Field(
        default=None,
        description="Whose tokens the server takes (auth = xoauth2); unset: Google for Google's"
        " hosts or endpoints, else Microsoft.",
    )
