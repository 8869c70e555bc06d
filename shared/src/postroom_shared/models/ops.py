"""Stored operations state: fetch checkpoints, the send ledger and records, heartbeats, the
quarantine, the processing log, account fetch state and API keys."""

from typing import Literal

from pydantic import AwareDatetime, Field

from postroom_shared.models.base import _Model, utcnow

__all__ = [
    "AccountState",
    "ApiKey",
    "ApiScope",
    "Checkpoint",
    "LedgerEntry",
    "ProcessingLogEntry",
    "QuarantineEntry",
    "SendRecord",
    "ServiceHeartbeat",
]


class Checkpoint(_Model):
    account_id: str
    folder: str
    uidvalidity: int
    last_uid: int


class LedgerEntry(_Model):
    """An automatic mail, keyed by (item, reason, recipient): claimed before it is sent, so
    concurrent copies of one event cannot both send it, and marked sent afterwards."""

    item_id: str
    reason: str
    recipient: str
    message_id: str
    state: Literal["sending", "sent", "failed"] = "sending"
    claimed_at: AwareDatetime = Field(default_factory=utcnow)
    sent_at: AwareDatetime | None = None


class SendRecord(_Model):
    """One automatic mail sent, for the rate limits and the RFC 3834 once-per-7-days rule."""

    recipient: str
    item_id: str
    fingerprint: str = Field(description="sha256 of the subject and body as sent.")
    at: AwareDatetime = Field(default_factory=utcnow)
    purpose: Literal["auto_reply", "notification", "too_large"] = Field(
        default="auto_reply", description="What was sent (the loop breaker counts auto-replies)."
    )
    account_id: str | None = Field(default=None, description="The account that sent it.")


class ServiceHeartbeat(_Model):
    service: str
    instance: str
    ready: bool
    detail: str = ""
    seen_at: AwareDatetime = Field(default_factory=utcnow)


class QuarantineEntry(_Model):
    """A mail that could not be processed, kept with its raw bytes until reprocessed or dropped."""

    id: str
    account_id: str
    mail_key: str
    reason: str
    blob_ref: str = Field(description="The raw mail in the blob store.")
    event: str = Field(description="The mail.received.v1 event (JSON) to reprocess it with.")
    headers_only: bool = Field(
        default=False,
        description="Only the header block was kept (too large, or the server could not hand"
        " it out): the mail itself stays in the mailbox, and it cannot be reprocessed.",
    )
    attempts: int = 1
    created_at: AwareDatetime = Field(default_factory=utcnow)


class ProcessingLogEntry(_Model):
    """What happened to one mail at one stage, and why (docs/features.md F8 processing log)."""

    id: str
    mail_key: str
    account_id: str
    stage: Literal["converter", "replier"]
    action: str = Field(
        examples=["created", "threaded", "ignored", "quarantined", "auto_reply_sent"]
    )
    reason: str
    item_id: str | None = None
    item_token: str | None = None
    blob_ref: str | None = Field(
        default=None, description="The raw mail, for mail that reached no item (ignored)."
    )
    at: AwareDatetime = Field(default_factory=utcnow)


class AccountState(_Model):
    """How fetching an account goes, for the API and the operator: written by the fetcher."""

    account_id: str
    status: Literal["ok", "error", "needs_reauth"] = "ok"
    error_kind: str | None = Field(
        default=None,
        examples=["auth", "tls", "folder", "network", "consent_revoked", "rate_limited"],
    )
    last_error: str | None = None
    since: AwareDatetime | None = Field(default=None, description="First failure of this run.")
    next_attempt: AwareDatetime | None = None
    failures: int = 0
    last_success: AwareDatetime | None = None
    mode: Literal["idle", "poll"] | None = None
    updated_at: AwareDatetime = Field(default_factory=utcnow)


ApiScope = Literal["admin", "read", "deliver", "agent"]


class ApiKey(_Model):
    """An API key; only the sha256 of the secret is kept."""

    id: str
    name: str = Field(min_length=1, max_length=200)
    scopes: list[ApiScope] = Field(min_length=1)
    key_hash: str = Field(description="sha256 hex of the whole key.")
    prefix: str = Field(description="The key's first characters, to recognise it in lists.")
    account_ids: list[str] = Field(
        default_factory=list,
        description="deliver scope: accounts it may push mail to; empty = all.",
    )
    created_at: AwareDatetime = Field(default_factory=utcnow)
    revoked_at: AwareDatetime | None = None
