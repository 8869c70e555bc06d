"""The converter's one use case: apply a received mail to the store, then announce it.

The rules decide (`domain/rules/`, pure, in a documented order); this module gathers what each
stage of rules needs and hands the decision to `record.py`, which writes it. Order of effects,
chosen so any crash point is safe on redelivery:
1. if the mail key was already applied, only re-publish leftover events (idempotency);
2. analyse the raw mail (parse, classify, read a bounce: pure, in a worker process under a
   time budget, see budget.py); the mail may be stopped here, before any threading query
   (quarantined when unreadable or too slow, ignored when it is our own);
3. look up the items it may belong to and decide: ignore, thread or create;
4. one store write: the new item (or the appended message) together with its outbox event,
   the raw mail's bytes when they came inline (a stopped mail's go with its log or quarantine
   entry) and the sender's new contact;
5. publish the event (confirmed), then clear it from the outbox.
Steps 1, 4 and 5 (and the item number) are shared with the mails converted at the same time
(`group_commit.py`): one store call and one round of confirms for all of them.
The broker message is acked only after all of this returned (the subscriber's ack policy).
"""

import hashlib
from dataclasses import dataclass, field

from faststream.rabbit import RabbitBroker

from postroom_converter.analysis import LOOP_HEADER, Analysis
from postroom_converter.budget import Analyser, TooSlow, shared_analyser
from postroom_converter.domain import rules
from postroom_converter.domain.decision import Ignore, Quarantine
from postroom_converter.domain.outcome import Ignored, Outcome, Quarantined
from postroom_converter.domain.parse import ParsedMail
from postroom_converter.domain.threading import Candidates
from postroom_converter.group_commit import GroupCommit
from postroom_converter.record import Placing, Recorder
from postroom_converter.store import ConverterStore
from postroom_shared.contracts import MailReceivedV1
from postroom_shared.errors import PermanentError, TransientError
from postroom_shared.logs import bind, get_logger
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.mail.tokens import find_token
from postroom_shared.models import EmailAccount
from postroom_shared.store.ports import blobs

__all__ = ["LOOP_HEADER", "Converter", "HeadersOnlyError"]

log = get_logger(__name__)


class HeadersOnlyError(ValueError):
    """A quarantine entry that holds a mail's headers, not the mail: it cannot be reprocessed."""


@dataclass
class Converter:
    store: ConverterStore
    broker: RabbitBroker
    signer: MessageIdSigner
    # None: this process's shared one-worker analyser (a converter made to reprocess one mail)
    analyser: Analyser | None = None
    # the group commit of its writes, shared with the sent mails' appends (commands/)
    commit: GroupCommit = field(init=False, repr=False)
    _record: Recorder = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.commit = GroupCommit(self.store, self.broker)
        self._record = Recorder(self.store, self.broker, self.commit)

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
                outcome = await self._record.quarantine(event, f"failed repeatedly: {exc!r}")
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
        # asked together with the other mails arriving now (one store call for all of them)
        if await self.commit.applied(event.mail_key) is not None:
            return await self._record.already_applied(event)
        account = await self.store.get_account(event.account_id)
        if stop := rules.on_arrival(rules.Arrival(event.account_id, account)):
            return await self._stop(event, stop, blob_ref=None)
        assert account is not None  # the unknown-account rule stops the mail otherwise
        raw = await self._raw(event)
        # Bytes that came inline are stored with what records the mail (its item's write, or
        # a stop's entry), not in a call of their own: their reference is their digest.
        unstored = None if event.blob_ref else raw
        blob_ref = event.blob_ref or blobs.blob_ref(hashlib.sha256(raw).hexdigest())
        analysis = await self._analyse(raw, account)
        mail, classification = analysis.mail, analysis.classification
        if stop := rules.on_content(rules.Content(classification, analysis.rejected)):
            return await self._stop(event, stop, blob_ref=blob_ref, unstored=unstored)
        # (the unreadable rule stopped a mail without these)
        assert mail is not None
        assert classification is not None
        candidates = await self._candidates(account, mail, analysis.returned_ids)
        sender = mail.sender.address if mail.sender else None
        decision = rules.on_placement(rules.Placement(classification, sender, candidates))
        if isinstance(decision, Ignore):
            return await self._stop(event, decision, blob_ref=blob_ref, unstored=unstored)
        placing = Placing(event, account, mail, classification, analysis.bounce, blob_ref, unstored)
        return await self._record.place(placing, decision)

    async def _stop(
        self,
        event: MailReceivedV1,
        stop: Ignore | Quarantine,
        *,
        blob_ref: str | None,
        unstored: bytes | None = None,
    ) -> Ignored | Quarantined:
        if unstored is not None:  # an ignored or quarantined mail stays reachable from its entry
            blob_ref = await self.store.put_blob(unstored)
        if isinstance(stop, Ignore):
            return await self._record.ignore(event, stop.reason, blob_ref=blob_ref)
        return await self._record.quarantine(event, stop.reason, blob_ref=blob_ref)

    async def _raw(self, event: MailReceivedV1) -> bytes:
        if event.raw_inline is not None:
            return event.raw_inline
        if event.blob_ref is None:
            raise PermanentError("mail.received.v1 carries neither raw_inline nor blob_ref")
        return await self.store.get_blob(event.blob_ref)

    async def _analyse(self, raw: bytes, account: EmailAccount) -> Analysis:
        analyser = self.analyser or shared_analyser(self.signer)
        try:
            return await analyser.analyse(raw, attachment_data=account.items.save_attachments)
        except TooSlow as exc:  # the same every time: quarantined at once, no retries
            return Analysis(mail=None, rejected=str(exc))

    async def _candidates(
        self, account: EmailAccount, mail: ParsedMail, returned: tuple[str, ...]
    ) -> Candidates:
        """The items the mail may belong to, for the threading rules to choose from."""
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
        by_reference = (
            await self.store.find_item_by_message_ids(account.id, referenced)
            if referenced  # a mail that answers nothing (most new mail): no lookup
            else None
        )
        return Candidates(signed=signed, by_token=by_token, by_reference=by_reference)
