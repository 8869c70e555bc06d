"""What the replier says about each automatic mail it sent, held back or failed to send: a
`reply.*` event for subscribers and a processing-log entry for the admin, both with ids a
redelivery reproduces, so telling twice changes nothing.

`Outcome` is what became of one mail on its way through the ledger, the limits and SMTP
(`delivery.py`); `Reports.outcome` turns it into the matching event.
"""

from dataclasses import dataclass
from typing import Literal

from faststream.rabbit import RabbitBroker

from postroom_replier.domain.sent_mail import inbound_mail
from postroom_replier.store import ReplierStore
from postroom_shared.contracts import (
    EventEnvelope,
    ItemCreatedV1,
    ItemUpdatedV1,
    MailQuarantinedV1,
    ReplyFailedV1,
    ReplySentV1,
    ReplySuppressedV1,
    deterministic_event_id,
)
from postroom_shared.logs import get_logger
from postroom_shared.messaging import publish_event
from postroom_shared.models import LedgerEntry, ProcessingLogEntry

__all__ = ["SOURCE", "Outcome", "Purpose", "Reports", "label"]

SOURCE = "replier"
Purpose = Literal["auto_reply", "notification", "too_large"]
log = get_logger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What became of one automatic mail: sent (now or before), failed now (report it), failed
    before (reported then), or held back by a rate limit (`detail` says which)."""

    state: Literal["sent", "failed", "failed_before", "limited"]
    detail: str


def label(purpose: Purpose) -> str:
    """How the logs name a purpose."""
    return {"auto_reply": "auto-reply", "notification": "notification"}.get(
        purpose, "too-large notice"
    )


@dataclass
class Reports:
    store: ReplierStore
    broker: RabbitBroker

    async def suppressed(
        self,
        cause: EventEnvelope,
        subject_id: str,
        purpose: Purpose,
        recipient: str | None,
        why: str,
    ) -> None:
        log.info(f"{label(purpose)} suppressed", recipient=recipient, why=why)
        await self._announce(
            ReplySuppressedV1, cause, subject_id, "suppressed", recipient, purpose, why=why
        )

    async def outcome(
        self,
        cause: EventEnvelope,
        subject_id: str,
        claim: LedgerEntry,
        outcome: Outcome,
        purpose: Purpose,
    ) -> None:
        recipient = claim.recipient
        if outcome.state == "limited":
            await self.suppressed(cause, subject_id, purpose, recipient, outcome.detail)
        elif outcome.state == "failed":
            log.warning(
                f"{label(purpose)} failed permanently", recipient=recipient, error=outcome.detail
            )
            await self._announce(
                ReplyFailedV1, cause, subject_id, "failed", recipient, purpose, error=outcome.detail
            )
        elif outcome.state == "sent":
            await self._announce(
                ReplySentV1,
                cause,
                subject_id,
                "sent",
                recipient,
                purpose,
                message_id=claim.message_id,
                smtp_response=outcome.detail,
            )
        # failed_before: reported as reply.failed.v1 when it happened

    async def _announce(
        self,
        event_type: type[ReplySentV1 | ReplySuppressedV1 | ReplyFailedV1],
        cause: EventEnvelope,
        subject_id: str,
        outcome: str,
        recipient: str | None,
        purpose: Purpose,
        **fields: object,
    ) -> None:
        """Publish what happened to one automatic mail, with an id a redelivery reproduces
        (auto-reply ids keep their original form; other purposes add theirs). A too-large
        notice is an auto-reply to the large mail, marked `notice: too_large`, and its
        `item_id` is the quarantine id (there is no item)."""
        await self._record(cause, outcome, recipient, purpose, fields)
        if purpose != "auto_reply":
            outcome = f"{outcome}:{purpose}"
        if purpose == "too_large":
            fields["notice"] = "too_large"
        await publish_event(
            self.broker,
            event_type.model_validate(
                {
                    "event_id": deterministic_event_id(
                        str(cause.event_id), outcome, recipient or ""
                    ),
                    "source": SOURCE,
                    "correlation_id": cause.correlation_id,
                    "causation_id": cause.event_id,
                    "item_id": subject_id,
                    "reason": "notification" if purpose == "notification" else "auto_reply",
                    "recipient": recipient,
                    **fields,
                }
            ),
        )

    async def _record(
        self,
        cause: EventEnvelope,
        outcome: str,
        recipient: str | None,
        purpose: Purpose,
        fields: dict[str, object],
    ) -> None:
        """The processing log shows what the replier did with each mail and why, next to the
        converter's entries; one entry per mail, purpose, outcome and recipient (the id makes a
        redelivery's entry a no-op)."""
        if isinstance(cause, ItemCreatedV1 | ItemUpdatedV1):
            mail_key, account_id = inbound_mail(cause).mail_key, cause.item.account_id
            item_id: str | None = cause.item.item_id
            token: str | None = cause.item.token
        elif isinstance(cause, MailQuarantinedV1):
            mail_key, account_id, item_id, token = cause.mail_key, cause.account_id, None, None
        else:
            return
        action = f"{'too_large_notice' if purpose == 'too_large' else purpose}_{outcome}"
        detail = fields.get("why") or fields.get("error") or fields.get("smtp_response") or ""
        await self.store.put_log(
            ProcessingLogEntry(
                id=f"{mail_key}:replier:{action}:{recipient or ''}",
                mail_key=mail_key,
                account_id=account_id,
                stage="replier",
                action=action,
                reason=f"{recipient or 'nobody'}: {detail}" if detail else (recipient or ""),
                item_id=item_id,
                item_token=token,
            )
        )
