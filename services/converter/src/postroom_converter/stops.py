"""What becomes of mail that is not placed on an item: ignored (our own mail, a rule said so) or
quarantined for a human, each with its processing-log entry and its event; and the log entry
every outcome of the converter writes.

Apart from `record.py` (placing mail on items) because these are the mail's dead ends: no item,
no thread, no group commit, one mail at a time (they are rare).
"""

import hashlib
from dataclasses import dataclass

from faststream.rabbit import RabbitBroker

from postroom_converter.domain.outcome import Ignored, Quarantined
from postroom_converter.store import ConverterStore
from postroom_shared.contracts import (
    MailIgnoredV1,
    MailQuarantinedV1,
    MailReceivedV1,
    deterministic_event_id,
)
from postroom_shared.logs import get_logger
from postroom_shared.messaging import publish_event
from postroom_shared.models import Item, ProcessingLogEntry, QuarantineEntry

__all__ = ["SOURCE", "Stops", "log_entry"]

SOURCE = "converter"
log = get_logger(__name__)


def _about(event: MailReceivedV1) -> dict[str, object]:
    """The fields every event the converter publishes about a mail carries."""
    return {
        "source": SOURCE,
        "correlation_id": event.correlation_id,
        "causation_id": event.event_id,
        "account_id": event.account_id,
        "mail_key": event.mail_key,
    }


def log_entry(
    event: MailReceivedV1,
    action: str,
    reason: str,
    *,
    item: Item | None = None,
    blob_ref: str | None = None,
) -> ProcessingLogEntry:
    return ProcessingLogEntry(
        id=f"{event.mail_key}:converter:{action}",
        mail_key=event.mail_key,
        account_id=event.account_id,
        stage="converter",
        action=action,
        reason=reason,
        item_id=item.id if item else None,
        item_token=item.token if item else None,
        blob_ref=blob_ref,
    )


@dataclass
class Stops:
    store: ConverterStore
    broker: RabbitBroker

    async def ignore(self, event: MailReceivedV1, reason: str, *, blob_ref: str | None) -> Ignored:
        # The raw bytes stay reachable from the log: "why was this ignored?" needs the mail.
        await self.log(event, "ignored", reason, blob_ref=blob_ref or event.blob_ref)
        event_id = deterministic_event_id(event.mail_key, "mail.ignored.v1")
        ignored = {**_about(event), "event_id": event_id, "reason": reason}
        await publish_event(self.broker, MailIgnoredV1.model_validate(ignored))
        return Ignored(reason)

    async def quarantine(
        self, event: MailReceivedV1, reason: str, *, blob_ref: str | None = None
    ) -> Quarantined:
        """Keep the mail for a human; the raw bytes go to the blob store if they are not
        there yet (a mail that failed before it was stored)."""
        if blob_ref is None and event.raw_inline is not None:
            blob_ref = await self.store.put_blob(event.raw_inline)
        blob_ref = blob_ref or event.blob_ref or ""
        quarantine_id = "q_" + hashlib.sha256(event.mail_key.encode()).hexdigest()[:20]
        await self.store.put_quarantine(
            QuarantineEntry(
                id=quarantine_id,
                account_id=event.account_id,
                mail_key=event.mail_key,
                reason=reason,
                blob_ref=blob_ref,
                # the raw bytes live in the blob store; the event keeps only the reference
                event=event.model_copy(
                    update={"raw_inline": None, "blob_ref": blob_ref}
                ).model_dump_json(),
            )
        )
        await self.log(event, "quarantined", reason)
        quarantined = {
            **_about(event),
            "event_id": deterministic_event_id(event.mail_key, "mail.quarantined.v1", reason),
            "quarantine_id": quarantine_id,
            "reason": reason,
        }
        await publish_event(self.broker, MailQuarantinedV1.model_validate(quarantined))
        log.warning("mail quarantined", reason=reason, quarantine_id=quarantine_id)
        return Quarantined(reason)

    async def log(
        self, event: MailReceivedV1, action: str, reason: str, *, blob_ref: str | None = None
    ) -> None:
        await self.store.put_log(log_entry(event, action, reason, blob_ref=blob_ref))
