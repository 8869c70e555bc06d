"""The storage ports: every method is one business operation, not a query builder.

Both adapters (`sqlite.py`, `mongo.py`) implement `Store` and pass the same contract tests in
`tests/contract/`. Writes that must not happen twice take the idempotency key with them
(a mail key, an event id, a ledger key), so a redelivered message is harmless.
"""

from datetime import datetime
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from postroom_shared.errors import TransientError
from postroom_shared.models import (
    AccountState,
    ApiKey,
    Checkpoint,
    EmailAccount,
    Item,
    ItemType,
    LedgerEntry,
    NotificationTemplate,
    Person,
    ProcessingLogEntry,
    QuarantineEntry,
    SendRecord,
    ServiceHeartbeat,
    SmtpSettings,
    ThreadMessage,
    Workflow,
)
from postroom_shared.store.blobs import BlobWriter

__all__ = [
    "ItemChanges",
    "ItemQuery",
    "OutboxEvent",
    "Store",
    "StoreOptions",
    "StoreUnavailableError",
]


class StoreUnavailableError(TransientError):
    """The store did not answer in time (server gone, network cut, database locked): the
    caller retries later, like any other transient failure."""


class StoreOptions(BaseModel):
    """Time bounds of every store call, so a hung or vanished server fails a call instead of
    stalling the service (docs/security.md, "Bounded waits"). A MongoDB URL that sets one of
    these itself (`timeoutMS=…`) wins over the option."""

    model_config = ConfigDict(frozen=True)

    timeout_s: float = Field(
        default=30.0, gt=0, description="Whole-call bound (MongoDB timeoutMS, SQLite busy wait)."
    )
    blob_timeout_s: float = Field(
        default=120.0, gt=0, description="Bound of one blob upload or download (large mail)."
    )
    connect_timeout_s: float = Field(default=5.0, gt=0, description="MongoDB connectTimeoutMS.")
    server_selection_timeout_s: float = Field(
        default=10.0, gt=0, description="MongoDB serverSelectionTimeoutMS."
    )


class OutboxEvent(BaseModel):
    """An event written with the change that caused it and published afterwards."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    routing_key: str
    body: str  # the event's JSON, exactly as it will be published


class ItemChanges(BaseModel):
    """Field changes applied together with an appended message (one atomic write)."""

    model_config = ConfigDict(frozen=True)

    status: str | None = None
    workflow_step: str | None = None
    bounced: tuple[str, ...] = ()


class ItemQuery(BaseModel):
    """Filters of an item listing; every field is matched as a value, never as a query."""

    model_config = ConfigDict(frozen=True)

    account_id: str | None = None
    item_type: ItemType | None = None
    status: str | None = None
    project: str | None = None
    requester: str | None = Field(
        default=None, description="Requester address (lower-cased) or person id."
    )
    text: str | None = Field(default=None, description="Case-insensitive substring of the title.")
    before: tuple[datetime, str] | None = Field(
        default=None, description="Cursor: (created_at, id) of the last item already seen."
    )
    limit: int = Field(default=100, ge=1, le=1000)


class Store(Protocol):
    """Everything the services persist."""

    # lifecycle
    async def connect(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> None:
        """Raise when the store cannot be reached."""
        ...

    # configuration
    async def put_account(self, account: EmailAccount) -> None:
        """Insert or replace by id; names are unique (ValueError on a clash)."""
        ...

    async def get_account(self, account_id: str) -> EmailAccount | None: ...
    async def list_accounts(self, *, active_only: bool = False) -> list[EmailAccount]: ...
    async def get_smtp_settings(self) -> SmtpSettings | None: ...
    async def put_workflow(self, workflow: Workflow) -> None: ...
    async def put_template(self, template: NotificationTemplate) -> None: ...
    async def get_template(self, template_id: str) -> NotificationTemplate | None: ...
    async def put_person(self, person: Person) -> None:
        """Insert or replace; an address belongs to one person (ValueError on a clash)."""
        ...

    async def find_person(self, address: str) -> Person | None: ...
    async def ensure_contact(self, person: Person) -> Person:
        """The person owning `person.emails[0]`, creating `person` when nobody does."""
        ...

    async def get_workflow(self, workflow_id: str) -> Workflow | None: ...
    async def put_smtp_settings(self, settings: SmtpSettings) -> None: ...
    async def delete_smtp_settings(self) -> bool:
        """Back to the built-in relay; False when none was stored."""
        ...

    async def delete_account(self, account_id: str) -> bool: ...
    async def list_workflows(self) -> list[Workflow]: ...
    async def delete_workflow(self, workflow_id: str) -> bool: ...
    async def list_templates(self) -> list[NotificationTemplate]: ...
    async def delete_template(self, template_id: str) -> bool: ...
    async def get_person(self, person_id: str) -> Person | None: ...
    async def list_people(self, *, kind: str | None = None, limit: int = 100) -> list[Person]: ...
    async def delete_person(self, person_id: str) -> bool: ...
    async def set_refresh_token(self, owner: str, refresh_token_enc: str) -> bool:
        """Store a rotated OAuth refresh token at once, touching nothing else: `owner` is an
        account id or "smtp". False when the owner (or its oauth settings) is gone."""
        ...

    # API keys (only hashes are stored)
    async def put_api_key(self, key: ApiKey) -> None: ...
    async def get_api_key_by_hash(self, key_hash: str) -> ApiKey | None: ...
    async def list_api_keys(self) -> list[ApiKey]: ...
    async def revoke_api_key(self, key_id: str) -> bool:
        """Set revoked_at; False when unknown or already revoked."""
        ...

    # OAuth sign-in (the API's callback)
    async def consume_oauth_state(self, state_id: str, expires_at: datetime) -> bool:
        """Record the sign-in state `state_id` as used: True the first time, False ever after.
        Atomic across processes; the record may go once `expires_at` (the state's own expiry,
        after which the state is refused anyway) has passed."""
        ...

    # fetcher coordination: account state, leases, seen keys
    async def put_account_state(self, state: AccountState) -> None: ...
    async def get_account_state(self, account_id: str) -> AccountState | None: ...
    async def list_account_states(self) -> list[AccountState]: ...
    async def acquire_lease(self, name: str, owner: str, ttl_s: float) -> bool:
        """Take or renew the lease `name` for `owner` until now + ttl; False while another
        owner's lease has not expired. Atomic across processes and replicas."""
        ...

    async def release_lease(self, name: str, owner: str) -> None:
        """Give the lease up if `owner` holds it (so another replica can take it at once)."""
        ...

    async def seen_keys(self, account_id: str, namespace: str, keys: list[str]) -> set[str]:
        """Which of `keys` were recorded (POP3 UIDLs, Message-IDs of a folder)."""
        ...

    async def add_seen_keys(self, account_id: str, namespace: str, keys: list[str]) -> None: ...
    async def prune_seen_keys(self, account_id: str, namespace: str, keep: list[str]) -> int:
        """Forget the keys of `namespace` not in `keep` (gone from the server); how many."""
        ...

    # mailbox checkpoints
    async def get_checkpoint(self, account_id: str, folder: str) -> Checkpoint | None: ...
    async def set_checkpoint(self, checkpoint: Checkpoint) -> None: ...

    # blobs (raw mail, attachments), addressed by sha256
    async def put_blob(self, data: bytes) -> str:
        """Store bytes, return their reference; storing the same bytes twice (also at the same
        time, from threads or processes) yields the same reference and no error."""
        ...

    async def open_blob_writer(self) -> BlobWriter:
        """A writer for bytes too large to hold at once: written chunk by chunk, hashed as
        they come, visible under their reference only after `commit`."""
        ...

    async def get_blob(self, ref: str) -> bytes:
        """The bytes for `ref`, hashed again on every read: KeyError when unknown,
        BlobCorrupted when the stored bytes do not match their reference."""
        ...

    # items and threads
    async def next_item_number(self, item_type: ItemType) -> int:
        """Allocate the next number of `item_type` (gaps possible after crashes, never reuse)."""
        ...

    async def item_for_mail(self, mail_key: str) -> Item | None:
        """The item this mail was already applied to, if any (the idempotency check)."""
        ...

    async def insert_item(
        self, item: Item, message: ThreadMessage, events: list[OutboxEvent]
    ) -> bool:
        """Create `item` with its first message and outbox events; False if the mail was
        already applied (nothing changes then)."""
        ...

    async def append_message(
        self,
        item_id: str,
        message: ThreadMessage,
        events: list[OutboxEvent],
        *,
        add_participants: list[str],
        count: bool = True,
        changes: ItemChanges | None = None,
    ) -> bool:
        """Append a message to an item's thread once per message key, with its outbox events
        and field `changes`; False if already appended (then nothing changes)."""
        ...

    async def get_item(self, item_id: str) -> Item | None: ...
    async def find_item_by_number(self, item_type: ItemType, number: int) -> Item | None: ...
    async def find_item_by_message_ids(
        self, account_id: str, message_ids: list[str]
    ) -> Item | None: ...
    async def list_items(self, *, limit: int = 100) -> list[Item]: ...
    async def query_items(self, query: ItemQuery) -> list[Item]:
        """Items matching `query`, newest first (created_at, id descending), after the cursor."""
        ...

    async def list_messages(self, item_id: str) -> list[ThreadMessage]: ...

    # transactional outbox
    async def pending_events(self, *, limit: int = 100) -> list[OutboxEvent]: ...
    async def mark_published(self, event_id: str) -> None: ...

    # reply ledger (replier idempotency)
    async def get_ledger(self, item_id: str, reason: str, recipient: str) -> LedgerEntry | None: ...
    async def claim_ledger(
        self, entry: LedgerEntry, *, stale_before: datetime
    ) -> Literal["claimed", "done", "busy"]:
        """Atomically claim the right to send `entry`: "claimed" when nobody has (or the last
        claim is older than `stale_before`: its sender died), "done" when it was sent (or failed
        for good) already, "busy" while another claim is fresh."""
        ...

    async def mark_done(self, entry: LedgerEntry, state: Literal["sent", "failed"]) -> None: ...

    # quarantine (poison mail) and processing log
    async def put_quarantine(self, entry: QuarantineEntry) -> None:
        """Insert, or count one more attempt for an entry with the same id."""
        ...

    async def get_quarantine(self, entry_id: str) -> QuarantineEntry | None: ...
    async def list_quarantine(self, *, limit: int = 100) -> list[QuarantineEntry]: ...
    async def count_quarantine(self) -> int: ...
    async def delete_quarantine(self, entry_id: str) -> bool: ...
    async def put_log(self, entry: ProcessingLogEntry) -> None:
        """Record a processing step; the same id twice keeps the first record."""
        ...

    async def list_log(
        self,
        *,
        account_id: str | None = None,
        mail_key: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[ProcessingLogEntry]:
        """Newest first."""
        ...

    # automatic mail history (rate limits)
    async def record_send(self, record: SendRecord) -> None: ...
    async def sends_since(self, recipient: str, since: datetime) -> list[SendRecord]:
        """Automatic mail sent to `recipient` at or after `since`, oldest first."""
        ...

    async def count_sends_since(
        self, since: datetime, *, domain: str | None = None, limit: int
    ) -> int:
        """How many automatic mails went out at or after `since` (to addresses of `domain`
        only, when given), counted up to `limit` (the budget: counting stops there)."""
        ...

    async def account_sends_since(
        self, account_id: str, since: datetime, *, limit: int
    ) -> list[SendRecord]:
        """Automatic mail `account_id` sent at or after `since`, oldest first, at most
        `limit` records."""
        ...

    # service health
    async def heartbeat(self, beat: ServiceHeartbeat) -> None: ...
    async def heartbeats(self, *, since: datetime) -> list[ServiceHeartbeat]: ...

    # retention (postroom_shared.retention runs these periodically): each removes what is
    # older than `before` in small batches, returns how many it removed, and can run again
    # (or concurrently) at any time
    async def purge_log(self, before: datetime) -> int:
        """Processing log entries recorded before `before`."""
        ...

    async def purge_sends(self, before: datetime) -> int:
        """Automatic-mail history (rate limits) older than `before`."""
        ...

    async def purge_ledger(self, before: datetime) -> int:
        """Reply ledger entries claimed before `before`."""
        ...

    async def purge_quarantine(self, before: datetime) -> int:
        """Quarantine entries first seen before `before`."""
        ...

    async def purge_heartbeats(self, before: datetime) -> int:
        """Heartbeats of service instances last seen before `before` (stopped processes)."""
        ...

    async def purge_seen_keys(
        self, before: datetime, *, account_ids: list[str], namespace_prefix: str
    ) -> int:
        """Seen keys of `account_ids` in namespaces starting with `namespace_prefix`, first
        recorded before `before` (keys recorded before they carried a time count from the
        first purge)."""
        ...

    async def purge_blobs(self, before: datetime) -> int:
        """Blobs last stored before `before` that no thread message (raw mail, attachment),
        quarantine entry or processing log entry references; also leftovers of writers that
        died. A blob stored again (or referenced anew through `put_blob`) is kept."""
        ...
