"""Applying a decision: every store write and event the converter makes for one mail.

Kept apart from the service so that the service reads as the order of its steps, and so that
each write is visibly idempotent: ids are derived from the mail key (item, log entry, quarantine
entry, events), and the item with its outbox event and its processing-log entry is one store
write, whose events are then published as written and cleared from the outbox.
"""

import hashlib
from dataclasses import dataclass

from faststream.rabbit import RabbitBroker

from postroom_converter.bounces import mark_bounced
from postroom_converter.domain.bounce import Bounce
from postroom_converter.domain.decision import Create, Thread
from postroom_converter.domain.effects import reply_changes, starting_step
from postroom_converter.domain.mapping import (
    contact_for,
    mail_actor,
    message_ref,
    new_item,
    participants_of,
    thread_message,
)
from postroom_converter.domain.outcome import (
    Created,
    Duplicate,
    Ignored,
    Outcome,
    Quarantined,
    Threaded,
)
from postroom_converter.domain.parse import ParsedMail
from postroom_converter.store import ConverterStore
from postroom_shared.contracts import (
    ClassificationV1,
    ItemCreatedV1,
    ItemUpdatedV1,
    MailIgnoredV1,
    MailQuarantinedV1,
    MailReceivedV1,
    deterministic_event_id,
    item_ref,
)
from postroom_shared.logs import get_logger
from postroom_shared.messaging import publish_event, publish_outboxed, relay_outbox, to_outbox
from postroom_shared.models import (
    EmailAccount,
    Item,
    ProcessingLogEntry,
    QuarantineEntry,
    StoredAttachment,
    ThreadMessage,
    Workflow,
)
from postroom_shared.store.ports import OutboxEvent

__all__ = ["SOURCE", "Placing", "Recorder"]

SOURCE = "converter"
log = get_logger(__name__)
# what a parsed attachment tells about itself, kept with its blob
_ATTACHMENT_FIELDS = ("filename", "content_type", "size", "sha256", "content_id", "inline")


def _own_event_ids(event: MailReceivedV1) -> set[str]:
    """The ids the item events caused by this mail have (they are deterministic)."""
    return {
        str(deterministic_event_id(event.mail_key, kind))
        for kind in ("item.created.v1", "item.updated.v1")
    }


def _about(event: MailReceivedV1) -> dict[str, object]:
    """The fields every event the converter publishes about a mail carries."""
    return {
        "source": SOURCE,
        "correlation_id": event.correlation_id,
        "causation_id": event.event_id,
        "account_id": event.account_id,
        "mail_key": event.mail_key,
    }


def _log_entry(
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


@dataclass(frozen=True)
class Placing:
    """A readable mail on its way onto an item: what creating or threading needs."""

    event: MailReceivedV1
    account: EmailAccount
    mail: ParsedMail
    classification: ClassificationV1
    bounce: Bounce | None
    blob_ref: str


@dataclass
class Recorder:
    store: ConverterStore
    broker: RabbitBroker

    async def already_applied(self, event: MailReceivedV1) -> Duplicate:
        """A redelivered mail: only its leftover events are published again."""
        await relay_outbox(self.broker, self.store, only=_own_event_ids(event))
        return Duplicate("already applied")

    async def place(self, placing: Placing, decision: Create | Thread) -> Outcome:
        """Open the item or append to its thread, then publish the event stored with it."""
        event, account, mail = placing.event, placing.account, placing.mail
        workflow = (
            await self.store.get_workflow(account.workflow_id) if account.workflow_id else None
        )
        message = message_ref(mail, event.mail_key, placing.classification)
        if isinstance(decision, Thread):
            item = decision.item
        else:
            item = await self._new_item(account, mail, event.mail_key, workflow)
        thread = thread_message(
            item_id=item.id,
            account=account,
            mail=mail,
            mail_key=event.mail_key,
            kind=placing.classification.kind,
            blob_ref=placing.blob_ref,
            attachments=await self._save_attachments(account, mail),
        )
        envelope: dict[str, object] = {
            "source": SOURCE,
            "correlation_id": event.correlation_id,
            "causation_id": event.event_id,
            "item": item_ref(item),
            "message": message,
        }
        action = "created" if isinstance(decision, Create) else "threaded"
        entry = _log_entry(event, action, decision.reason, item=item)
        outcome: Outcome
        if isinstance(decision, Create):
            out = ItemCreatedV1.model_validate(
                {**envelope, "event_id": deterministic_event_id(event.mail_key, "item.created.v1")}
            )
            written = [to_outbox(out)]
            applied = await self.store.insert_item(item, thread, written, log=entry)
            outcome = Created(item.token, decision.reason)
        else:
            applied, written = await self._append(placing, item, thread, workflow, envelope, entry)
            outcome = Threaded(item.token, decision.reason)
        if not applied:  # whoever applied it wrote the event: publish it if it is still there
            await relay_outbox(self.broker, self.store, only=_own_event_ids(event))
            return Duplicate("applied concurrently")
        # The events just written are published as they are, without reading the outbox back;
        # a crash before they are marked leaves them to the relay (consumers are idempotent).
        await publish_outboxed(self.broker, self.store, written)
        return outcome

    async def _new_item(
        self, account: EmailAccount, mail: ParsedMail, mail_key: str, workflow: Workflow | None
    ) -> Item:
        number = await self.store.next_item_number(account.item_type)
        item = new_item(
            account,
            mail,
            number=number,
            mail_key=mail_key,
            requester_id=await self._requester_id(account, mail),
        )
        item.workflow_id = workflow.id if workflow else None
        item.workflow_step = starting_step(workflow)
        return item

    async def _append(
        self,
        placing: Placing,
        item: Item,
        thread: ThreadMessage,
        workflow: Workflow | None,
        envelope: dict[str, object],
        entry: ProcessingLogEntry,
    ) -> tuple[bool, list[OutboxEvent]]:
        """Append a reply to `item` with the changes its kind asks for (status, workflow step,
        bounced recipients) and its event; False when this mail was appended already."""
        kind, bounce = placing.classification.kind, placing.bounce
        changes = reply_changes(
            account=placing.account,
            item=item,
            workflow=workflow,
            kind=kind,
            bounced=tuple(r.address for r in bounce.recipients) if bounce else (),
        )
        what: list[str] = ["message_appended"]
        what += ["status"] if changes.status else []
        what += ["workflow_step"] if changes.workflow_step else []
        update = ItemUpdatedV1.model_validate(
            {
                **envelope,
                "item": item_ref(item, status=changes.status),
                "event_id": deterministic_event_id(thread.key, "item.updated.v1"),
                "changes": tuple(what),
                "threaded_by": entry.reason,
                "actor": mail_actor(placing.mail),
            }
        )
        participants = participants_of(placing.mail, placing.account) if kind == "normal" else []
        # before the append: a redelivery after a crash in between marks again
        await mark_bounced(
            self.store, bounce, placing.event, item_id=item.id, subject=placing.mail.subject
        )
        written = [to_outbox(update)]
        applied = await self.store.append_message(
            item.id, thread, written, add_participants=participants, changes=changes, log=entry
        )
        return applied, written

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
        await self.store.put_log(_log_entry(event, action, reason, blob_ref=blob_ref))

    async def _save_attachments(
        self, account: EmailAccount, mail: ParsedMail
    ) -> list[StoredAttachment]:
        """Attachments go to the blob store (deduplicated by content) when the account says so;
        the raw mail keeps them either way."""
        if not account.items.save_attachments:
            return []
        stored: list[StoredAttachment] = []
        for a in mail.attachments:
            blob_ref = await self.store.put_blob(a.data)
            described = {name: getattr(a, name) for name in _ATTACHMENT_FIELDS}
            stored.append(StoredAttachment(**described, blob_ref=blob_ref))
        return stored

    async def _requester_id(self, account: EmailAccount, mail: ParsedMail) -> str | None:
        """Relate the sender to a customer or user; unknown senders become contacts or stay
        anonymous, per account (docs/architecture.md, the converter)."""
        if not account.items.map_sender or mail.sender is None:
            return None
        if account.items.unknown_sender == "create_contact":
            # finds the customer, user or contact owning the address first: one call, not two
            return (await self.store.ensure_contact(contact_for(mail.sender))).id
        person = await self.store.find_person(mail.sender.address)
        return person.id if person else None
