"""The one path every mail takes: ledger, limits, claim, SMTP, ledger, send history.

Three store calls per new automatic mail: the ledger entry with the send history the limits need
(`check_send`), the claim, and the mark with the send record and the processing-log entry
(`finish_send`); each shared with the other handlers at the same step (`group_commit.py`: one
round trip, one transaction on SQLite, for all of them).

Idempotency: the ledger is keyed by (item, "<purpose>:<mail key or change>", recipient), for a
team reply by (item, "team_reply:<thread key>", recipient), for a notice by (quarantine id,
"too_large", recipient). A team reply is person-to-person mail: the limits and the send history
of automatic mail do not apply to it (a human chose to send it), the ledger does. An entry is
claimed before sending and marked right after. A crash between the SMTP answer and the ledger
write makes a redelivery send once more, with the SAME Message-ID (it is derived from the event
and recipient), so receiving clients that dedupe by Message-ID show one mail; this is the only
at-least-once window, documented in docs/architecture.md.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from postroom_replier.adapters.smtp import SmtpTarget, send_with_retry
from postroom_replier.adapters.smtp_pool import SmtpPool
from postroom_replier.domain.rate_limits import fingerprint
from postroom_replier.domain.wire import OutboundMail
from postroom_replier.group_commit import GroupCommit
from postroom_replier.limits import why_held, window
from postroom_replier.reports import Outcome, Purpose, label
from postroom_replier.settings import ReplierSettings
from postroom_replier.store import ReplierStore
from postroom_shared.errors import PermanentError, TransientError
from postroom_shared.logs import get_logger
from postroom_shared.models import LedgerEntry, ProcessingLogEntry, SendRecord, utcnow

__all__ = ["Delivery", "SentLog"]

log = get_logger(__name__)
SentLog = Callable[[str], ProcessingLogEntry | None]
"""The processing-log entry of a mail SMTP accepted with the given answer."""


@dataclass
class Delivery:
    store: ReplierStore
    settings: ReplierSettings
    target: Callable[[], Awaitable[SmtpTarget]]  # read per send: API changes apply at once
    pool: SmtpPool = field(init=False)
    ledger: GroupCommit = field(init=False)
    _sending: set["asyncio.Future[Outcome]"] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self.pool = SmtpPool(self.settings.smtp_idle_s)
        self.ledger = GroupCommit(self.store)

    async def deliver(
        self,
        claim: LedgerEntry,
        mail: OutboundMail,
        purpose: Purpose,
        account_id: str,
        sent_log: SentLog | None = None,
    ) -> Outcome:
        """Send `mail` at most once for `claim`, within the limits of automatic mail (unless
        it is a team reply); what became of it. `sent_log` makes the processing-log entry of a
        mail sent now, written with the ledger mark (the outcome says it is written)."""
        automatic = None if purpose == "team_reply" else purpose  # its SendRecord purpose
        recipient = claim.recipient
        now = utcnow()
        limits = window(self.settings, now) if automatic is not None else None
        check = await self.ledger.check_send(claim.item_id, claim.reason, recipient, limits)
        held = check.ledger
        if held is not None and held.state != "sending":
            if held.state == "failed":
                return Outcome("failed_before", "")
            return Outcome("sent", "already sent (ledger)")
        content = fingerprint(mail.subject, mail.body)
        if held is None and automatic is not None:  # new mail, not finishing a claimed one
            limited = why_held(
                self.settings,
                check,
                now,
                recipient=recipient,
                item_id=claim.item_id,
                content=content,
                auto_reply=purpose == "auto_reply",
            )
            if limited is not None:
                return Outcome("limited", limited)
        # Shielded from here on: a broker connection that drops cancels the handlers in flight
        # (aiormq cancels a closed channel's consumer tasks). Cut off between the claim and the
        # mark, the redelivery would wait for the claim to go stale and send it then; cut off
        # after SMTP's answer, it would send a second copy.
        sending = asyncio.ensure_future(
            self._claim_and_send(claim, mail, purpose, account_id, content, sent_log)
        )
        self._sending.add(sending)
        sending.add_done_callback(self._sending.discard)
        return await asyncio.shield(sending)

    async def _claim_and_send(
        self,
        claim: LedgerEntry,
        mail: OutboundMail,
        purpose: Purpose,
        account_id: str,
        content: str,
        sent_log: SentLog | None,
    ) -> Outcome:
        """Claim the mail, send it and mark the claim: sent, or failed for good; or what
        another worker that held the claim made of it."""
        automatic = None if purpose == "team_reply" else purpose
        if await self._claim(claim) != "claimed":
            held = await self.store.get_ledger(claim.item_id, claim.reason, claim.recipient)
            if held is not None and held.state == "failed":
                return Outcome("failed_before", "")
            return Outcome("sent", "already sent (ledger)")

        try:
            response = await send_with_retry(
                mail,
                await self.target(),
                deadline_s=self.settings.smtp_retry_deadline_s,
                send=self.pool.send,
            )
        except PermanentError as exc:
            await self.store.mark_done(claim, "failed")
            return Outcome("failed", str(exc))
        entry = sent_log(response) if sent_log is not None and automatic else None
        if automatic is None:
            await self._mark_sent(lambda: self.store.mark_done(claim, "sent"))
        else:  # the limits and budgets count automatic mail only
            record = SendRecord(
                recipient=claim.recipient,
                item_id=claim.item_id,
                fingerprint=content,
                purpose=automatic,
                account_id=account_id,
            )
            await self._mark_sent(lambda: self.ledger.finish_send(claim, record, entry))
        log.info(f"{label(purpose)} sent", recipient=claim.recipient, message_id=claim.message_id)
        return Outcome("sent", response, logged=entry is not None)

    def _patience(self) -> float:
        # a live sender holds its claim at most this long (retries included)
        return self.settings.smtp_retry_deadline_s + self.settings.smtp_timeout_s * 2 + 10

    async def _mark_sent(self, mark: Callable[[], Awaitable[None]]) -> None:
        """SMTP accepted the mail: `mark` records it, retrying a store that is briefly
        unavailable (a locked SQLite, a MongoDB failover) here rather than through a
        redelivery, which would find this claim, wait for it to go stale and send a second
        copy. The retries stay well inside the claim's patience, so no other worker takes the
        claim meanwhile."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._patience() / 2
        delay = 0.1
        while True:
            try:
                await mark()
                return
            except TransientError as exc:
                if loop.time() + delay > deadline:
                    raise
                log.warning("ledger mark after send failed; retrying", error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    async def _claim(self, claim: LedgerEntry) -> str:
        """Claim the right to send; while another worker holds a fresh claim (a concurrent copy
        of the same event), wait for it to finish instead of sending twice."""
        patience = self._patience()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience + 5
        while True:
            stale_before = utcnow() - timedelta(seconds=patience)
            outcome = await self.ledger.claim_ledger(
                claim.model_copy(update={"claimed_at": utcnow()}), stale_before=stale_before
            )
            if outcome != "busy":
                return outcome
            if loop.time() > deadline:
                raise TransientError(f"send claim of {claim.recipient} still held")
            await asyncio.sleep(0.2)
