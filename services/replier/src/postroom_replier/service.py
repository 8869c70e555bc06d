"""The replier's use case: for each item event, send the auto-replies and notifications the loop
rules allow; for each mail quarantined for its size, the notice to its sender (SPEC F2, F5, F6).

Idempotency: the ledger is keyed by (item, "<purpose>:<mail key>", recipient), or for a notice
by (quarantine id, "too_large", recipient). It is claimed before sending and marked right after.
A crash between the SMTP answer and the ledger write makes a redelivery send once more, with the
SAME Message-ID (it is derived from the event and recipient), so receiving clients that dedupe by
Message-ID show one mail; this is the only at-least-once window, documented in
docs/architecture.md.
"""

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Literal

from faststream.rabbit import RabbitBroker

from postroom_replier.adapters.smtp import SmtpTarget, send_with_retry
from postroom_replier.domain.compose import compose_auto_reply, compose_too_large_notice
from postroom_replier.domain.loop_rules import plan_auto_reply
from postroom_replier.domain.notify_rules import plan_notifications
from postroom_replier.domain.rate_limits import fingerprint
from postroom_replier.domain.templates import Rendered
from postroom_replier.domain.too_large import LEDGER_REASON, notice_key, plan_too_large_notice
from postroom_replier.limits import why_held
from postroom_replier.outbound import AccessTokens, resolve_target
from postroom_replier.renderer import TemplateRenderer
from postroom_replier.settings import ReplierSettings
from postroom_replier.templating import render_for
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
from postroom_shared.errors import PermanentError, TransientError
from postroom_shared.logs import bind, get_logger
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.messaging import publish_event
from postroom_shared.models import (
    EmailAccount,
    LedgerEntry,
    Party,
    ProcessingLogEntry,
    SendRecord,
    ThreadMessage,
    utcnow,
)
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store

__all__ = ["Replier"]

SOURCE = "replier"
Purpose = Literal["auto_reply", "notification", "too_large"]
ItemEvent = ItemCreatedV1 | ItemUpdatedV1
log = get_logger(__name__)


@dataclass(frozen=True)
class _Outcome:
    """What became of one automatic mail: sent (now or before), failed now (report it), failed
    before (reported then), or held back by a rate limit (`detail` says which)."""

    state: Literal["sent", "failed", "failed_before", "limited"]
    detail: str


def _nonce(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


@dataclass
class Replier:
    store: Store
    broker: RabbitBroker
    signer: MessageIdSigner
    secrets: SecretBox
    settings: ReplierSettings
    tokens: AccessTokens | None = None  # XOAUTH2 for the stored SMTP server
    renderer: TemplateRenderer | None = None  # for stored templates; made on first use

    async def aclose(self) -> None:
        """Stop the template render workers (a render in progress finishes first)."""
        if self.renderer is not None:
            await self.renderer.aclose()

    async def handle(self, event: ItemEvent) -> None:
        with bind(
            mail_key=event.message.mail_key,
            correlation_id=event.correlation_id,
            item=event.item.token,
        ):
            account = await self.store.get_account(event.item.account_id)
            if account is None:
                log.warning("item event for an unknown account", account=event.item.account_id)
                return
            kind: Literal["created", "updated"] = (
                "created" if isinstance(event, ItemCreatedV1) else "updated"
            )
            own = {a.address.lower() for a in await self.store.list_accounts()}
            plan = plan_auto_reply(
                account=account, event=kind, message=event.message, own_addresses=own
            )
            for recipient, why in plan.suppressed:
                await self._suppressed(event, event.item.item_id, "auto_reply", recipient, why)
            for recipient in plan.recipients:
                await self._send(event, account, recipient, "auto_reply")
            item = await self.store.get_item(event.item.item_id)
            if item is None:
                return
            notify = plan_notifications(
                item=item, event=kind, message=event.message, own_addresses=own
            )
            for recipient, why in notify.suppressed:
                await self._suppressed(event, event.item.item_id, "notification", recipient, why)
            for recipient in notify.recipients:
                await self._send(event, account, recipient, "notification")

    async def handle_quarantined(self, event: MailQuarantinedV1) -> None:
        """Tell the sender of a mail left unprocessed for its size, once, if the account wants
        it and the loop rules allow it; every other quarantined mail is none of our business."""
        if not event.too_large:
            return
        with bind(
            mail_key=event.mail_key,
            correlation_id=event.correlation_id,
            quarantine=event.quarantine_id,
        ):
            account = await self.store.get_account(event.account_id)
            own = {a.address.lower() for a in await self.store.list_accounts()}
            plan = plan_too_large_notice(event=event, account=account, own_addresses=own)
            key = notice_key(event.quarantine_id)
            if plan.why is not None or account is None or plan.recipient is None:
                why = plan.why or "no usable sender address"
                await self._suppressed(event, key, "too_large", plan.recipient, why)
                return
            recipient = plan.recipient
            message_id = self.signer.make(
                key,
                _nonce(key, LEDGER_REASON, recipient),
                domain=account.address.rsplit("@", 1)[-1],
            )
            mail = compose_too_large_notice(
                account=account,
                recipient=recipient,
                subject=event.subject,
                size=event.size,
                limit=min(account.max_mail_bytes, self.settings.max_mail_bytes),
                message_id=message_id,
                instance=self.settings.instance,
            )
            claim = LedgerEntry(
                item_id=key, reason=LEDGER_REASON, recipient=recipient, message_id=message_id
            )
            outcome = await self._deliver(claim, mail, "too_large", account.id)
            await self._report(event, key, claim, outcome, "too_large")

    async def _suppressed(
        self,
        cause: EventEnvelope,
        subject_id: str,
        purpose: Purpose,
        recipient: str | None,
        why: str,
    ) -> None:
        log.info(f"{_label(purpose)} suppressed", recipient=recipient, why=why)
        await self._announce(
            ReplySuppressedV1, cause, subject_id, "suppressed", recipient, purpose, why=why
        )

    async def _send(
        self, event: ItemEvent, account: EmailAccount, recipient: str, purpose: Purpose
    ) -> None:
        """Send one automatic mail (auto-reply or notification) about an item at most once,
        within limits, and put it on the item's thread."""
        item = event.item
        message_id = self.signer.make(
            item.item_id,
            _nonce(str(event.event_id), recipient),
            domain=account.address.rsplit("@", 1)[-1],
        )
        claim = LedgerEntry(
            item_id=item.item_id,
            reason=f"{purpose}:{event.message.mail_key}",
            recipient=recipient,
            message_id=message_id,
        )
        mail = compose_auto_reply(
            account=account,
            item=item,
            inbound=event.message,
            recipient=recipient,
            message_id=message_id,
            instance=self.settings.instance,
            rendered=await self._render(account, event, purpose, recipient),
            auto_submitted="auto-replied" if purpose == "auto_reply" else "auto-generated",
        )
        outcome = await self._deliver(claim, mail, purpose, account.id)
        if outcome.state == "sent":
            await self.store.append_message(
                item.item_id,
                ThreadMessage(
                    key=f"out:{message_id}",
                    item_id=item.item_id,
                    account_id=account.id,
                    direction="out",
                    message_id=message_id,
                    in_reply_to=[event.message.message_id] if event.message.message_id else [],
                    subject=str(mail["Subject"]),
                    sender=Party(address=account.address, name=account.name),
                    to=[Party(address=recipient)],
                    kind=purpose,
                    created_at=utcnow(),
                ),
                [],
                add_participants=[],
            )
        await self._report(event, item.item_id, claim, outcome, purpose)

    async def _deliver(
        self, claim: LedgerEntry, mail: EmailMessage, purpose: Purpose, account_id: str
    ) -> _Outcome:
        """The one path of every automatic mail: ledger, limits, claim, SMTP, ledger, history."""
        recipient = claim.recipient
        held = await self.store.get_ledger(claim.item_id, claim.reason, recipient)
        if held is not None and held.state != "sending":
            if held.state == "failed":
                return _Outcome("failed_before", "")
            return _Outcome("sent", "already sent (ledger)")
        content = fingerprint(str(mail["Subject"]), _body(mail))
        if held is None:  # the limits apply to new mail, not to finishing a claimed one
            limited = await why_held(
                self.store,
                self.settings,
                recipient=recipient,
                item_id=claim.item_id,
                content=content,
                auto_reply=purpose == "auto_reply",
            )
            if limited is not None:
                return _Outcome("limited", limited)
        if await self._claim(claim) == "claimed":
            try:
                response = await send_with_retry(
                    mail,
                    await self._smtp_target(),
                    deadline_s=self.settings.smtp_retry_deadline_s,
                )
            except PermanentError as exc:
                await self.store.mark_done(claim, "failed")
                return _Outcome("failed", str(exc))
            await self.store.mark_done(claim, "sent")
            await self.store.record_send(
                SendRecord(
                    recipient=recipient,
                    item_id=claim.item_id,
                    fingerprint=content,
                    purpose=purpose,
                    account_id=account_id,
                )
            )
            log.info(f"{_label(purpose)} sent", recipient=recipient, message_id=claim.message_id)
            return _Outcome("sent", response)
        held = await self.store.get_ledger(claim.item_id, claim.reason, recipient)
        if held is not None and held.state == "failed":
            return _Outcome("failed_before", "")
        return _Outcome("sent", "already sent (ledger)")

    async def _report(
        self,
        cause: EventEnvelope,
        subject_id: str,
        claim: LedgerEntry,
        outcome: _Outcome,
        purpose: Purpose,
    ) -> None:
        recipient = claim.recipient
        if outcome.state == "limited":
            await self._suppressed(cause, subject_id, purpose, recipient, outcome.detail)
        elif outcome.state == "failed":
            log.warning(
                f"{_label(purpose)} failed permanently", recipient=recipient, error=outcome.detail
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
        """The processing log (SPEC F8) shows what the replier did with each mail and why,
        next to the converter's entries; one entry per mail, purpose, outcome and recipient
        (the id makes a redelivery's entry a no-op)."""
        if isinstance(cause, ItemCreatedV1 | ItemUpdatedV1):
            mail_key, account_id = cause.message.mail_key, cause.item.account_id
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

    async def _claim(self, claim: LedgerEntry) -> str:
        """Claim the right to send; while another worker holds a fresh claim (a concurrent copy
        of the same event), wait for it to finish instead of sending twice."""
        # a live sender holds its claim at most this long (retries included)
        patience = self.settings.smtp_retry_deadline_s + self.settings.smtp_timeout_s * 2 + 10
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience + 5
        while True:
            stale_before = utcnow() - timedelta(seconds=patience)
            outcome = await self.store.claim_ledger(
                claim.model_copy(update={"claimed_at": utcnow()}), stale_before=stale_before
            )
            if outcome != "busy":
                return outcome
            if loop.time() > deadline:
                raise TransientError(f"send claim of {claim.recipient} still held")
            await asyncio.sleep(0.2)

    async def _render(
        self, account: EmailAccount, event: ItemEvent, purpose: Purpose, recipient: str
    ) -> Rendered:
        return await render_for(
            self.store,
            self._template_renderer(),
            account=account,
            event=event,
            notification=purpose == "notification",
            recipient=recipient,
        )

    def _template_renderer(self) -> TemplateRenderer:
        if self.renderer is None:
            self.renderer = TemplateRenderer(
                workers=self.settings.template_workers,
                timeout_s=self.settings.template_render_timeout_s,
                memory_mb=self.settings.template_memory_mb,
            )
        return self.renderer

    async def _smtp_target(self) -> SmtpTarget:
        """Read per send: an SMTP change through the API applies to the next mail."""
        return await resolve_target(
            self.store, secrets=self.secrets, relay=self.settings.relay(), tokens=self.tokens
        )


def _body(mail: EmailMessage) -> str:
    """Text and HTML as sent: what the identical-reply rule compares."""
    parts = [mail.get_body((kind,)) for kind in ("plain", "html")]
    return "".join(str(part.get_content()) for part in parts if part is not None)


def _label(purpose: Purpose) -> str:
    return {"auto_reply": "auto-reply", "notification": "notification"}.get(
        purpose, "too-large notice"
    )
