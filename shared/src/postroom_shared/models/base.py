"""What every stored shape shares: the model base, the clock, and the enums several rooms use."""

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

__all__ = ["TOKEN_PREFIXES", "AfterRead", "ItemType", "Security", "_Model", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class ItemType(StrEnum):
    INCIDENT = "incident"
    USER_STORY = "user_story"
    DEFECT = "defect"


TOKEN_PREFIXES: dict[ItemType, str] = {
    ItemType.INCIDENT: "INC",
    ItemType.USER_STORY: "US",
    ItemType.DEFECT: "DEF",
}


class Security(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


class AfterRead(StrEnum):
    DELETE = "delete"
    MARK_READ = "mark_read"
    LEAVE_UNREAD = "leave_unread"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")
