"""The converter's one use case: apply a received mail to the store, then announce it.

Order of effects, chosen so any crash point is safe on redelivery:
1. if the mail key was already applied, only re-publish leftover events (idempotency);
2. analyse the mail (parse, classify, read a bounce: pure, in a worker process under a time
   budget, see budget.py; over it the mail is quarantined `too_slow`), decide the thread;
3. one store write: the new item (or the appended message) together with its outbox event;
4. publish the event (confirmed), then clear it from the outbox.
The broker message is acked only after all of this returned (the subscriber's ack policy).
"""

import hashlib
from dataclasses import dataclass

from faststream.rabbit import RabbitBroker

from postroom_converter.analysis import LOOP_HEADER
from postroom_converter.budget import Analyser, TooSlow, shared_analyser
from postroom_converter.domain.bounce import Bounce
from postroom_converter.domain.effects import reply_changes, starting_step
from postroom_converter.domain.mapping import (
    contact_for,
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
from postroom_converter.domain.threading import Candidates, decide_thread
from postroom_shared.contracts import (
    ClassificationV1,
    ItemCreatedV1,
    ItemRefV1,
    ItemUpdatedV1,
    MailIgnoredV1,
    MailQuarantinedV1,
    MailReceivedV1,
    deterministic_event_id,
)
from postroom_shared.errors import PermanentError, TransientError
from postroom_shared.logs import bind, get_logger
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.mail.tokens import find_token
from postroom_shared.messaging import publish_event, relay_outbox, to_outbox
from postroom_shared.models import (
    EmailAccount,
    Item,
    ProcessingLogEntry,
    QuarantineEntry,
    StoredAttachment,
    ThreadMessage,
    Workflow,
)
from postroom_shared.store import ItemChanges, Store

__all__ = ["LOOP_HEADER", "Converter", "HeadersOnlyError"]

SOURCE = "converter"
log = get_logger(__name__)


# Automatic mail is threaded when it belongs to an item, but never opens one.
_NEVER_NEW_ITEMS = frozenset({"auto_reply", "out_of_office", "bounce"})


def _own_event_ids(event: MailReceivedV1) -> set[str]:
    """The ids the item events caused by this mail have (they are deterministic)."""
    return {
        str(deterministic_event_id(event.mail_key, kind))
        for kind in ("item.created.v1", "item.updated.v1")
    }


def _why(classification: ClassificationV1) -> str:
    return "; ".join(classification.reasons) or classification.kind


def item_ref(item: Item, changes: ItemChanges | None = None) -> ItemRefV1:
    """The item as events show it, after `changes` (the state subscribers will find)."""
    return ItemRefV1(
        item_id=item.id,
        item_type=item.item_type.value,
        number=item.number,
        token=item.token,
        project=item.project,
        title=item.title,
        status=(changes.status if changes else None) or item.status,
        account_id=item.account_id,
    )


class HeadersOnlyError(ValueError):
    """A quarantine entry that holds a mail's headers, not the mail: it cannot be reprocessed."""


@dataclass
class Converter:
    store: Store
    broker: RabbitBroker
    signer: MessageIdSigner
    # None: this process's shared one-worker analyser (a converter made to reprocess one mail)
    analyser: Analyser | None = None

    async def handle(self, event: MailReceivedV1, *, final_attempt: bool = False) -> Outcome:
        """Apply one received mail; returns what happened, for logs and tests.

        A failure that is not transient is raised (so the broker redelivers) until the
        `final_attempt`, where the mail goes to the quarantine instead of the dead-letter
        queue: there a human sees the reason and can reprocess it.
        """
        with bind(mail_key=event.mail_key, correlation_id=event.correlation_id):
            try:
                outcome = await self._handle(event)
            except TransientError:
                raise
            except Exception as exc:
                if not final_attempt:
                    log.warning("conversion failed, will retry", error=repr(exc))
                    raise
                outcome = await self._quarantine(event, f"failed repeatedly: {exc!r}")
            log.info("mail converted", outcome=str(outcome))
            return outcome

    async def reprocess(self, quarantine_id: str) -> Outcome:
        """Run a quarantined mail through the converter again; it leaves the quarantine
        unless it is quarantined again."""
        entry = await self.store.get_quarantine(quarantine_id)
        if entry is None:
            raise KeyError(quarantine_id)
        if entry.headers_only:
            # Converting the headers alone would make an item without the mail's content.
            raise HeadersOnlyError(
                "only the headers of this mail were kept; the mail itself is still in the"
                " mailbox: handle it there, then discard this entry"
            )
        event = MailReceivedV1.model_validate_json(entry.event)
        outcome = await self.handle(event, final_attempt=True)
        if not isinstance(outcome, Quarantined):  # else it stays, one attempt more
            await self.store.delete_quarantine(quarantine_id)
        return outcome

    async def _handle(self, event: MailReceivedV1) -> Outcome:
        if await self.store.item_for_mail(event.mail_key) is not None:
            await relay_outbox(self.broker, self.store, only=_own_event_ids(event))
            return Duplicate("already applied")
        account = await self.store.get_account(event.account_id)
        if account is None:
            return await self._ignore(event, f"unknown account {event.account_id}")
        raw = await self._raw(event)
        blob_ref = event.blob_ref or await self.store.put_blob(raw)
        analyser = self.analyser or shared_analyser(self.signer)
        try:
            analysis = await analyser.analyse(raw, attachment_data=account.items.save_attachments)
        except TooSlow as exc:  # the same every time: quarantined at once, no retries
            return await self._quarantine(event, str(exc), blob_ref=blob_ref)
        mail, classification = analysis.mail, analysis.classification
        if mail is None or classification is None:  # over a size or structure cap
            return await self._quarantine(event, analysis.rejected, blob_ref=blob_ref)
        decision = decide_thread(
            mail.sender.address if mail.sender else None,
            await self._candidates(account, mail, analysis.returned_ids),
        )
        if classification.kind == "own_loop":
            why = "our own mail came back: " + _why(classification)
            return await self._ignore(event, why, blob_ref=blob_ref)
        if decision.item is None and classification.kind in _NEVER_NEW_ITEMS:
            reason = f"{classification.kind} mail that belongs to no item: {_why(classification)}"
            return await self._ignore(event, reason, blob_ref=blob_ref)
        workflow = (
            await self.store.get_workflow(account.workflow_id) if account.workflow_id else None
        )
        message = message_ref(mail, event.mail_key, classification)
        item = decision.item or await self._new_item(account, mail, event.mail_key, workflow)
        thread = thread_message(
            item_id=item.id,
            account=account,
            mail=mail,
            mail_key=event.mail_key,
            kind=classification.kind,
            blob_ref=blob_ref,
            attachments=await self._save_attachments(account, mail),
        )
        envelope: dict[str, object] = {
            "source": SOURCE,
            "correlation_id": event.correlation_id,
            "causation_id": event.event_id,
            "item": item_ref(item),
            "message": message,
        }
        created = decision.item is None
        if created:
            out = ItemCreatedV1.model_validate(
                {**envelope, "event_id": deterministic_event_id(event.mail_key, "item.created.v1")}
            )
            applied = await self.store.insert_item(item, thread, [to_outbox(out)])
            outcome: Outcome = Created(item.token, decision.reason)
        else:
            applied = await self._append(
                account,
                item,
                mail,
                thread,
                classification,
                workflow,
                envelope,
                decision.reason,
                bounce=analysis.bounce,
            )
            outcome = Threaded(item.token, decision.reason)
        if not applied:
            outcome = Duplicate("applied concurrently")
        else:
            await self._log(event, "created" if created else "threaded", decision.reason, item=item)
        await relay_outbox(self.broker, self.store, only=_own_event_ids(event))
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
        account: EmailAccount,
        item: Item,
        mail: ParsedMail,
        thread: ThreadMessage,
        classification: ClassificationV1,
        workflow: Workflow | None,
        envelope: dict[str, object],
        threaded_by: str,
        *,
        bounce: Bounce | None,
    ) -> bool:
        """Append a reply to `item` with the changes its kind asks for (status, workflow step,
        bounced recipients); False when this mail was appended already."""
        changes = reply_changes(
            account=account,
            item=item,
            workflow=workflow,
            kind=classification.kind,
            bounced=tuple(r.address for r in bounce.recipients) if bounce else (),
        )
        what: list[str] = ["message_appended"]
        what += ["status"] if changes.status else []
        what += ["workflow_step"] if changes.workflow_step else []
        update = ItemUpdatedV1.model_validate(
            {
                **envelope,
                "item": item_ref(item, changes),
                "event_id": deterministic_event_id(thread.key, "item.updated.v1"),
                "changes": tuple(what),
                "threaded_by": threaded_by,
            }
        )
        return await self.store.append_message(
            item.id,
            thread,
            [to_outbox(update)],
            add_participants=participants_of(mail, account)
            if classification.kind == "normal"
            else [],
            changes=changes,
        )

    async def _log(
        self,
        event: MailReceivedV1,
        action: str,
        reason: str,
        *,
        item: Item | None = None,
        blob_ref: str | None = None,
    ) -> None:
        await self.store.put_log(
            ProcessingLogEntry(
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
        )

    async def _quarantine(
        self, event: MailReceivedV1, reason: str, *, blob_ref: str | None = None
    ) -> Quarantined:
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
        await self._log(event, "quarantined", reason)
        await publish_event(
            self.broker,
            MailQuarantinedV1(
                event_id=deterministic_event_id(event.mail_key, "mail.quarantined.v1", reason),
                source=SOURCE,
                correlation_id=event.correlation_id,
                causation_id=event.event_id,
                account_id=event.account_id,
                mail_key=event.mail_key,
                quarantine_id=quarantine_id,
                reason=reason,
            ),
        )
        log.warning("mail quarantined", reason=reason, quarantine_id=quarantine_id)
        return Quarantined(reason)

    async def _save_attachments(
        self, account: EmailAccount, mail: ParsedMail
    ) -> list[StoredAttachment]:
        """Attachments go to the blob store (deduplicated by content) when the account says so;
        the raw mail keeps them either way."""
        if not account.items.save_attachments:
            return []
        return [
            StoredAttachment(
                filename=a.filename,
                content_type=a.content_type,
                size=a.size,
                sha256=a.sha256,
                content_id=a.content_id,
                inline=a.inline,
                blob_ref=await self.store.put_blob(a.data),
            )
            for a in mail.attachments
        ]

    async def _requester_id(self, account: EmailAccount, mail: ParsedMail) -> str | None:
        """Relate the sender to a customer or user; unknown senders become contacts or stay
        anonymous, per account (SPEC F3)."""
        if not account.items.map_sender or mail.sender is None:
            return None
        person = await self.store.find_person(mail.sender.address)
        if person is None and account.items.unknown_sender == "create_contact":
            person = await self.store.ensure_contact(contact_for(mail.sender))
        return person.id if person else None

    async def _raw(self, event: MailReceivedV1) -> bytes:
        if event.raw_inline is not None:
            return event.raw_inline
        if event.blob_ref is None:
            raise PermanentError("mail.received.v1 carries neither raw_inline nor blob_ref")
        return await self.store.get_blob(event.blob_ref)

    async def _candidates(
        self, account: EmailAccount, mail: ParsedMail, returned: tuple[str, ...]
    ) -> Candidates:
        # A bounce belongs to the item whose mail it returns (`returned`: only bounces have it).
        referenced = [*returned, *mail.in_reply_to, *reversed(mail.references)]
        signed = None
        for mid in referenced:
            item_id = self.signer.verify(mid)
            if item_id is not None:
                item = await self.store.get_item(item_id)
                if item is not None and item.item_type is account.item_type:
                    signed = item
                    break
        number = find_token(mail.subject, account.item_type)
        by_token = (
            await self.store.find_item_by_number(account.item_type, number) if number else None
        )
        by_reference = await self.store.find_item_by_message_ids(account.id, referenced)
        return Candidates(signed=signed, by_token=by_token, by_reference=by_reference)

    async def _ignore(
        self, event: MailReceivedV1, reason: str, *, blob_ref: str | None = None
    ) -> Ignored:
        # The raw bytes stay reachable from the log: "why was this ignored?" needs the mail.
        await self._log(event, "ignored", reason, blob_ref=blob_ref or event.blob_ref)
        await publish_event(
            self.broker,
            MailIgnoredV1(
                event_id=deterministic_event_id(event.mail_key, "mail.ignored.v1"),
                source=SOURCE,
                correlation_id=event.correlation_id,
                causation_id=event.event_id,
                account_id=event.account_id,
                mail_key=event.mail_key,
                reason=reason,
            ),
        )
        return Ignored(reason)
