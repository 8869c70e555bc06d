"""What the replier says about each automatic mail it sent, held back or failed to send: a
`reply.*` event for subscribers and a processing-log entry for the admin, both with ids a
redelivery reproduces, so telling twice changes nothing. A team reply is no automatic mail and
the `reply.*` contracts have no reason for it: subscribers know of it from `item.updated.v1`
("reply_added"); what became of its mail goes to the processing log (`team_reply_sent`,
`team_reply_failed`, `team_reply_warning` for a bounced address).

`Outcome` is what became of one mail on its way through the ledger, the limits and SMTP
(`delivery.py`); `Reports.outcome` turns it into the matching event.
"""

import asyncio
from dataclasses import dataclass
from typing import Literal

from faststream.rabbit import RabbitBroker

from postroom_replier.store import ReplierStore
from postroom_shared.contracts import (
    CommandEnvelope,
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
from postroom_shared.messaging import publish_command, publish_event
from postroom_shared.models import LedgerEntry, ProcessingLogEntry

__all__ = ["SOURCE", "AutoPurpose", "Outcome", "Purpose", "Reports", "change_key", "label"]

SOURCE = "replier"
AutoPurpose = Literal["auto_reply", "notification", "too_large"]  # automatic mail
Purpose = AutoPurpose | Literal["team_reply"]
log = get_logger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What became of one automatic mail: sent (now or before), failed now (report it), failed
    before (reported then), or held back by a rate limit (`detail` says which)."""

    state: Literal["sent", "failed", "failed_before", "limited"]
    detail: str
    logged: bool = False  # its processing-log entry was written with the ledger mark


def label(purpose: Purpose) -> str:
    """How the logs name a purpose."""
    return {
        "auto_reply": "auto-reply",
        "notification": "notification",
        "team_reply": "team reply",
    }.get(purpose, "too-large notice")


def change_key(event: ItemCreatedV1 | ItemUpdatedV1) -> str:
    """What one item event is about, for keys a redelivery reproduces: its mail, or the
    command (or, without either, the event) that changed the item."""
    if event.message is not None:
        return event.message.mail_key
    command_id = event.command_id if isinstance(event, ItemUpdatedV1) else None
    return str(command_id or event.event_id)


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

    async def noted(
        self, cause: EventEnvelope, purpose: Purpose, recipient: str, warning: str
    ) -> None:
        """A mail goes out but the admin should know something about it (processing log)."""
        await self._record(cause, "warning", recipient, purpose, {"why": warning})

    async def outcome(
        self,
        cause: EventEnvelope,
        subject_id: str,
        claim: LedgerEntry,
        outcome: Outcome,
        purpose: Purpose,
        command: CommandEnvelope | None = None,
    ) -> None:
        """Publish (and log) what became of one mail. `command`: for the item's owner when
        the mail is sent (`item.record_sent_mail.v1`); it and `reply.sent.v1` are confirmed
        together, one wait instead of two. Both are confirmed before the event is acked and a
        redelivery repeats either with the same id, so their order does not matter."""
        recipient = claim.recipient
        if outcome.state == "sent" and command is not None:
            await asyncio.gather(
                publish_command(self.broker, command),
                self.outcome(cause, subject_id, claim, outcome, purpose),
            )
            return
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
                logged=outcome.logged,
                **self._sent_fields(claim, outcome.detail),
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
        logged: bool = False,
        **fields: object,
    ) -> None:
        """Publish what happened to one automatic mail, with an id a redelivery reproduces
        (auto-reply ids keep their original form; other purposes add theirs). A too-large
        notice is an auto-reply to the large mail, marked `notice: too_large`, and its
        `item_id` is the quarantine id (there is no item). `logged`: the processing-log entry
        is written already (with the ledger mark)."""
        if not logged:
            await self._record(cause, outcome, recipient, purpose, fields)
        if purpose == "team_reply":  # no reply.* reason for it (module docstring)
            return
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

    def sent_entry(
        self, cause: EventEnvelope, claim: LedgerEntry, response: str, purpose: Purpose
    ) -> ProcessingLogEntry | None:
        """The processing-log entry of a mail SMTP accepted with `response`, for the store to
        write together with the ledger mark (`Delivery.deliver`); `outcome` then skips it."""
        fields = self._sent_fields(claim, response)
        return _entry(cause, "sent", claim.recipient, purpose, fields)

    @staticmethod
    def _sent_fields(claim: LedgerEntry, response: str) -> dict[str, object]:
        return {"message_id": claim.message_id, "smtp_response": response}

    async def _record(
        self,
        cause: EventEnvelope,
        outcome: str,
        recipient: str | None,
        purpose: Purpose,
        fields: dict[str, object],
    ) -> None:
        entry = _entry(cause, outcome, recipient, purpose, fields)
        if entry is not None:
            await self.store.put_log(entry)


def _entry(
    cause: EventEnvelope,
    outcome: str,
    recipient: str | None,
    purpose: Purpose,
    fields: dict[str, object],
) -> ProcessingLogEntry | None:
    """The processing log shows what the replier did with each mail and why, next to the
    converter's entries; one entry per mail, purpose, outcome and recipient (the id makes a
    redelivery's entry a no-op)."""
    if isinstance(cause, ItemCreatedV1 | ItemUpdatedV1):
        key, account_id = change_key(cause), cause.item.account_id
        mail_key = cause.message.mail_key if cause.message else cause.correlation_id
        item_id: str | None = cause.item.item_id
        token: str | None = cause.item.token
    elif isinstance(cause, MailQuarantinedV1):
        key = mail_key = cause.mail_key
        account_id, item_id, token = cause.account_id, None, None
    else:
        return None
    action = f"{'too_large_notice' if purpose == 'too_large' else purpose}_{outcome}"
    detail = fields.get("why") or fields.get("error") or fields.get("smtp_response") or ""
    return ProcessingLogEntry(
        id=f"{key}:replier:{action}:{recipient or ''}",
        mail_key=mail_key,
        account_id=account_id,
        stage="replier",
        action=action,
        reason=f"{recipient or 'nobody'}: {detail}" if detail else (recipient or ""),
        item_id=item_id,
        item_token=token,
    )
