"""The processing log and the quarantine over HTTP."""

from datetime import datetime
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, Field

from postroom_api.schemas.common import View
from postroom_shared.models import ProcessingLogEntry, QuarantineEntry

__all__ = ["LogEntryView", "QuarantinePage", "QuarantineView", "ReprocessView"]


class LogEntryView(BaseModel):
    id: str
    mail_key: str
    account_id: str
    stage: Literal["converter", "replier"]
    action: str = Field(examples=["created", "threaded", "ignored", "quarantined"])
    reason: str
    item_id: str | None
    item_token: str | None
    at: datetime
    raw_url: str | None = Field(
        description="The raw mail (.eml) when it was applied to an item or ignored"
        " (quarantined mail: GET /v1/quarantine/{id}/raw)."
    )

    @classmethod
    def of(cls, entry: ProcessingLogEntry) -> "LogEntryView":
        return cls(
            **entry.model_dump(),
            raw_url="/v1/log/raw?mail_key=" + quote(entry.mail_key, safe="")
            if entry.item_id or entry.blob_ref
            else None,
        )


class QuarantineView(View):
    id: str
    account_id: str
    mail_key: str
    reason: str
    attempts: int
    created_at: datetime
    raw_url: str | None = Field(description="The raw mail (.eml) as it was received.")

    @classmethod
    def of(cls, entry: QuarantineEntry) -> "QuarantineView":
        return cls.read(entry, raw_url=f"/v1/quarantine/{entry.id}/raw" if entry.blob_ref else None)


class ReprocessView(BaseModel):
    outcome: str = Field(
        description="What the converter did this time.",
        examples=["created INC-7", "quarantined: MIME nesting deeper than 100 levels"],
    )
    quarantined: bool = Field(description="It failed again and stays in the quarantine.")


class QuarantinePage(BaseModel):
    total: int = Field(description="Entries in the quarantine.")
    entries: list[QuarantineView] = Field(description="Newest first, at most `limit`.")
