"""Value types every store port shares: call bounds, outbox events, item changes and queries.

They live apart from the role ports so that a port module imports only what it speaks of, and
so that settings can name `StoreOptions` without pulling in any port.
"""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from postroom_shared.errors import TransientError
from postroom_shared.models import ItemType

__all__ = ["ItemChanges", "ItemQuery", "OutboxEvent", "StoreOptions", "StoreUnavailableError"]


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
