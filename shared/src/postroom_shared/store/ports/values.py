"""Value types every store port shares: call bounds, outbox events, item changes and queries.

They live apart from the role ports so that a port module imports only what it speaks of, and
so that settings can name `StoreOptions` without pulling in any port.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from postroom_shared.errors import TransientError
from postroom_shared.models import ItemType

__all__ = [
    "BUCKET_FORMATS",
    "ActivityBucket",
    "ActivityCount",
    "ActivityKind",
    "ItemChanges",
    "ItemQuery",
    "OutboxEvent",
    "StoreOptions",
    "StoreUnavailableError",
    "activity_counts",
    "reply_kind",
]


class StoreUnavailableError(TransientError):
    """The store did not answer in time (server gone, network cut, database locked): the
    caller retries later, like any other transient failure."""


class StoreOptions(BaseModel):
    """Time bounds of every store call, so a hung or vanished server fails a call instead of
    stalling the service (docs/security.md, "Bounded waits"). A MongoDB URL that sets one of
    these itself (`timeoutMS=…`) wins over the option. Also where small blobs live."""

    model_config = ConfigDict(frozen=True)

    timeout_s: float = Field(
        default=30.0, gt=0, description="Whole-call bound (MongoDB timeoutMS, SQLite busy wait)."
    )
    blob_timeout_s: float = Field(
        default=120.0, gt=0, description="Bound of one blob upload or download (large mail)."
    )
    small_blob_max_bytes: int = Field(
        default=262_144,
        ge=0,
        description="`put_blob` keeps bytes up to this size inside the database (a SQLite"
        " table, a MongoDB collection) instead of a file or GridFS; 0: never.",
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


ActivityKind = Literal["mails_received", "items_created", "replies_sent", "replies_suppressed"]
ActivityBucket = Literal["hour", "day"]
# How each adapter names a bucket: the UTC start of its hour or day, as strftime formats it.
BUCKET_FORMATS: dict[ActivityBucket, str] = {
    "hour": "%Y-%m-%dT%H:00:00Z",
    "day": "%Y-%m-%dT00:00:00Z",
}


class ActivityCount(BaseModel):
    """How many things of one kind happened in one hour (or day) of UTC time."""

    model_config = ConfigDict(frozen=True)

    start: datetime = Field(description="Start of the bucket (UTC).")
    kind: ActivityKind
    count: int = Field(ge=0)


def reply_kind(action: str) -> ActivityKind | None:
    """Which reply count a replier log action adds to (`auto_reply_sent`, `team_reply_sent`,
    `notification_suppressed`, ...): the replier names its actions `<purpose>_<outcome>`."""
    if action.endswith("_sent"):
        return "replies_sent"
    if action.endswith("_suppressed"):
        return "replies_suppressed"
    return None


def activity_counts(rows: Iterable[tuple[str, str, str, int]]) -> list[ActivityCount]:
    """The adapters' grouped rows summed per bucket and kind. A row is (bucket label as
    `BUCKET_FORMATS` writes it, kind or "reply", the replier's action for "reply", count)."""
    sums: dict[tuple[str, ActivityKind], int] = {}
    kinds: dict[str, ActivityKind] = {kind: kind for kind in get_args(ActivityKind)}
    for label, kind, action, count in rows:
        named = reply_kind(action) if kind == "reply" else kinds.get(kind)
        if named is not None and count:
            sums[(label, named)] = sums.get((label, named), 0) + count
    return [
        ActivityCount(start=datetime.fromisoformat(label), kind=kind, count=count)
        for (label, kind), count in sorted(sums.items())
    ]
