"""Applying a decision: every store write and event the converter makes for a mail it places
on an item (what becomes of the rest: `stops.py`).

Kept apart from the service so that the service reads as the order of its steps, and so that
each write is visibly idempotent: ids are derived from the mail key (item, log entry, quarantine
entry, events), and the item with its outbox event and its processing-log entry is one write,
whose events are then published as written and cleared from the outbox. Item numbers and
those writes go through the group commit (`group_commit.py`): with the other mails converted
at the same time, in one store call and one round of confirms.
"""

from dataclasses import dataclass

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
    Outcome,
    Threaded,
)
from postroom_converter.domain.parse import ParsedMail
from postroom_converter.group_commit import GroupCommit, Numbered
from postroom_converter.stops import SOURCE, Stops, log_entry
from postroom_shared.contracts import (
    ClassificationV1,
    ItemCreatedV1,
    ItemUpdatedV1,
    MailReceivedV1,
    deterministic_event_id,
    item_ref,
)
from postroom_shared.messaging import relay_outbox, to_outbox
from postroom_shared.models import (
    EmailAccount,
    Item,
    Person,
    StoredAttachment,
    ThreadMessage,
    Workflow,
)
from postroom_shared.store.ports import AppendedMessage, MailWrite, NewItem

__all__ = ["Placing", "Recorder"]

# what a parsed attachment tells about itself, kept with its blob
_ATTACHMENT_FIELDS = ("filename", "content_type", "size", "sha256", "content_id", "inline")


def _own_event_ids(event: MailReceivedV1) -> set[str]:
    """The ids the item events caused by this mail have (they are deterministic)."""
    return {
        str(deterministic_event_id(event.mail_key, kind))
        for kind in ("item.created.v1", "item.updated.v1")
    }


def _envelope(placing: "Placing", item: Item) -> dict[str, object]:
    """What the item event of a placed mail says besides its kind and changes."""
    event = placing.event
    return {
        "source": SOURCE,
        "correlation_id": event.correlation_id,
        "causation_id": event.event_id,
        "item": item_ref(item),
        "message": message_ref(placing.mail, event.mail_key, placing.classification),
    }


def _thread(placing: "Placing", item_id: str, attachments: list[StoredAttachment]) -> ThreadMessage:
    return thread_message(
        item_id=item_id,
        account=placing.account,
        mail=placing.mail,
        mail_key=placing.event.mail_key,
        kind=placing.classification.kind,
        blob_ref=placing.blob_ref,
        attachments=attachments,
    )


def _blobs(placing: "Placing") -> tuple[bytes, ...]:
    return () if placing.raw is None else (placing.raw,)


@dataclass(frozen=True)
class Placing:
    """A readable mail on its way onto an item: what creating or threading needs."""

    event: MailReceivedV1
    account: EmailAccount
    mail: ParsedMail
    classification: ClassificationV1
    bounce: Bounce | None
    blob_ref: str
    # the raw mail's bytes when they came inline: stored with the write (`MailWrite.blobs`)
    raw: bytes | None = None


@dataclass
class Recorder(Stops):
    """Places readable mail on items (`Stops`: what becomes of the rest)."""

    # the item numbers and writes of mails converted side by side go together
    commit: GroupCommit

    async def already_applied(self, event: MailReceivedV1) -> Duplicate:
        """A redelivered mail: only its leftover events are published again."""
        await relay_outbox(self.broker, self.store, only=_own_event_ids(event))
        return Duplicate("already applied")

    async def place(self, placing: Placing, decision: Create | Thread) -> Outcome:
        """Open the item or append to its thread, then publish the event stored with it."""
        account, mail = placing.account, placing.mail
        workflow = (
            await self.store.get_workflow(account.workflow_id) if account.workflow_id else None
        )
        attachments = await self._save_attachments(account, mail)
        outcome: Outcome
        if isinstance(decision, Thread):
            item = decision.item
            thread = _thread(placing, item.id, attachments)
            write: MailWrite | Numbered = await self._append(
                placing, item, thread, workflow, decision.reason
            )
            outcome = Threaded(item.token, decision.reason)
        else:
            requester_id, contact = await self._requester(account, mail)
            made: list[Item] = []

            def build(number: int) -> NewItem:
                # called by the group commit with the number it allocated for this batch
                item = new_item(
                    account,
                    mail,
                    number=number,
                    mail_key=placing.event.mail_key,
                    requester_id=requester_id,
                )
                item.workflow_id = workflow.id if workflow else None
                item.workflow_step = starting_step(workflow)
                made.append(item)
                created = ItemCreatedV1.model_validate(
                    {
                        **_envelope(placing, item),
                        "event_id": deterministic_event_id(
                            placing.event.mail_key, "item.created.v1"
                        ),
                    }
                )
                entry = log_entry(placing.event, "created", decision.reason, item=item)
                thread = _thread(placing, item.id, attachments)
                return NewItem(item, thread, [to_outbox(created)], entry, contact, _blobs(placing))

            write = Numbered(account.item_type, build)
        # Returns once the write is committed and its event confirmed (with the other mails of
        # its batch); a crash before the event is cleared leaves it to the relay.
        if not await self.commit.write(write):
            # whoever applied it wrote the event: publish it if it is still there
            await relay_outbox(self.broker, self.store, only=_own_event_ids(placing.event))
            return Duplicate("applied concurrently")
        return outcome if isinstance(decision, Thread) else Created(made[0].token, decision.reason)

    async def _append(
        self,
        placing: Placing,
        item: Item,
        thread: ThreadMessage,
        workflow: Workflow | None,
        reason: str,
    ) -> AppendedMessage:
        """Append a reply to `item` with the changes its kind asks for (status, workflow step,
        bounced recipients) and its event, as a write for the group commit."""
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
        entry = log_entry(placing.event, "threaded", reason, item=item)
        update = ItemUpdatedV1.model_validate(
            {
                **_envelope(placing, item),
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
        return AppendedMessage(
            item.id,
            thread,
            [to_outbox(update)],
            participants,
            True,
            changes,
            entry,
            _blobs(placing),
        )

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

    async def _requester(
        self, account: EmailAccount, mail: ParsedMail
    ) -> tuple[str | None, Person | None]:
        """Relate the sender to a customer or user; unknown senders become contacts or stay
        anonymous, per account (docs/architecture.md, the converter). Returns the requester
        id and, for a sender who becomes a contact, that contact: it is stored with the item,
        in the item's transaction (`NewItem.contact`), not in one of its own. Should somebody
        else own the address by then, that write fails (ContactClash) and the mail is tried
        again, which finds them here."""
        if not account.items.map_sender or mail.sender is None:
            return None, None
        person = await self.store.find_person(mail.sender.address)
        if person is not None:
            return person.id, None
        if account.items.unknown_sender == "create_contact":
            contact = contact_for(mail.sender)
            return contact.id, contact
        return None, None
