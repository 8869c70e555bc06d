"""The replier's use case: for each item event, send the auto-replies the loop rules allow.

Idempotency: the ledger is keyed by (item, "auto_reply:<mail key>", recipient). It is checked
before sending and written right after. A crash between the SMTP answer and the ledger write
makes a redelivery send once more, with the SAME Message-ID (it is derived from the event and
recipient), so receiving clients that dedupe by Message-ID show one mail; this is the only
at-least-once window, documented in docs/architecture.md.
"""

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from faststream.rabbit import RabbitBroker

from postroom_replier.adapters.smtp import SmtpTarget, send_with_retry
from postroom_replier.domain.compose import compose_auto_reply
from postroom_replier.domain.loop_rules import plan_auto_reply
from postroom_replier.domain.notify_rules import plan_notifications
from postroom_replier.domain.rate_limits import HISTORY, fingerprint, rate_limit_reason
from postroom_replier.domain.templates import (
    BUILTIN_AUTO_REPLY,
    BUILTIN_NOTIFICATION,
    Rendered,
    TemplateError,
    context,
    render,
)
from postroom_replier.settings import ReplierSettings
from postroom_shared.contracts import (
    ItemCreatedV1,
    ItemUpdatedV1,
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
    SendRecord,
    ThreadMessage,
    utcnow,
)
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store

__all__ = ["Replier"]

SOURCE = "replier"
Purpose = Literal["auto_reply", "notification"]
log = get_logger(__name__)


@dataclass
class Replier:
    store: Store
    broker: RabbitBroker
    signer: MessageIdSigner
    secrets: SecretBox
    settings: ReplierSettings

    async def handle(self, event: ItemCreatedV1 | ItemUpdatedV1) -> None:
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
                await self._suppressed(event, "auto_reply", recipient, why)
            for recipient in plan.recipients:
                await self._send(event, account, recipient, "auto_reply")
            item = await self.store.get_item(event.item.item_id)
            if item is None:
                return
            notify = plan_notifications(
                item=item, event=kind, message=event.message, own_addresses=own
            )
            for recipient, why in notify.suppressed:
                await self._suppressed(event, "notification", recipient, why)
            for recipient in notify.recipients:
                await self._send(event, account, recipient, "notification")

    async def _suppressed(
        self,
        event: ItemCreatedV1 | ItemUpdatedV1,
        purpose: Purpose,
        recipient: str | None,
        why: str,
    ) -> None:
        log.info(f"{purpose.replace('_', '-')} suppressed", recipient=recipient, why=why)
        await self._announce(ReplySuppressedV1, event, "suppressed", recipient, purpose, why=why)

    async def _send(
        self,
        event: ItemCreatedV1 | ItemUpdatedV1,
        account: EmailAccount,
        recipient: str,
        purpose: Purpose,
    ) -> None:
        """Send one automatic mail (auto-reply or notification) at most once, within limits."""
        item = event.item
        reason = f"{purpose}:{event.message.mail_key}"
        nonce = hashlib.sha256(f"{event.event_id}\x1f{recipient}".encode()).hexdigest()[:24]
        message_id = self.signer.make(
            item.item_id, nonce, domain=account.address.rsplit("@", 1)[-1]
        )
        claim = LedgerEntry(
            item_id=item.item_id, reason=reason, recipient=recipient, message_id=message_id
        )
        held = await self.store.get_ledger(item.item_id, reason, recipient)
        response = "already sent (ledger)"
        subject = ""
        if held is None or held.state == "sending":
            mail = compose_auto_reply(
                account=account,
                item=item,
                inbound=event.message,
                recipient=recipient,
                message_id=message_id,
                instance=self.settings.instance,
                rendered=(rendered := await self._render(account, event, purpose)),
                auto_submitted="auto-replied" if purpose == "auto_reply" else "auto-generated",
            )
            subject = str(mail["Subject"])
            content = fingerprint(subject, rendered.text + (rendered.html or ""))
            if held is None:  # the limits apply to new mail, not to finishing a claimed one
                limited = rate_limit_reason(
                    now=utcnow(),
                    recipient=recipient,
                    item_id=item.item_id,
                    content=content,
                    history=await self.store.sends_since(recipient, utcnow() - HISTORY),
                )
                if limited is not None:
                    await self._suppressed(event, purpose, recipient, limited)
                    return
            if await self._claim(claim) == "claimed":
                try:
                    response = await send_with_retry(
                        mail,
                        await self._smtp_target(),
                        deadline_s=self.settings.smtp_retry_deadline_s,
                    )
                except PermanentError as exc:
                    await self.store.mark_done(claim, "failed")
                    await self._failed(event, purpose, recipient, str(exc))
                    return
                await self.store.mark_done(claim, "sent")
                await self.store.record_send(
                    SendRecord(recipient=recipient, item_id=item.item_id, fingerprint=content)
                )
                log.info(
                    f"{purpose.replace('_', '-')} sent", recipient=recipient, message_id=message_id
                )
            held = await self.store.get_ledger(item.item_id, reason, recipient)
        if held is not None and held.state == "failed":
            return  # reported as reply.failed.v1 when it happened
        await self.store.append_message(
            item.item_id,
            ThreadMessage(
                key=f"out:{message_id}",
                item_id=item.item_id,
                account_id=account.id,
                direction="out",
                message_id=message_id,
                in_reply_to=[event.message.message_id] if event.message.message_id else [],
                subject=subject,
                sender=Party(address=account.address, name=account.name),
                to=[Party(address=recipient)],
                kind=purpose,
                created_at=utcnow(),
            ),
            [],
            add_participants=[],
        )
        await self._announce(
            ReplySentV1,
            event,
            "sent",
            recipient,
            purpose,
            message_id=message_id,
            smtp_response=response,
        )

    async def _failed(
        self, event: ItemCreatedV1 | ItemUpdatedV1, purpose: Purpose, recipient: str, error: str
    ) -> None:
        log.warning(
            f"{purpose.replace('_', '-')} failed permanently", recipient=recipient, error=error
        )
        await self._announce(ReplyFailedV1, event, "failed", recipient, purpose, error=error)

    async def _announce(
        self,
        event_type: type[ReplySentV1 | ReplySuppressedV1 | ReplyFailedV1],
        cause: ItemCreatedV1 | ItemUpdatedV1,
        outcome: str,
        recipient: str | None,
        purpose: Purpose,
        **fields: object,
    ) -> None:
        """Publish what happened to one automatic mail, with an id a redelivery reproduces
        (auto-reply ids keep their original form; notifications add their purpose)."""
        if purpose != "auto_reply":
            outcome = f"{outcome}:{purpose}"
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
                    "item_id": cause.item.item_id,
                    "reason": purpose,
                    "recipient": recipient,
                    **fields,
                }
            ),
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
        self, account: EmailAccount, event: ItemCreatedV1 | ItemUpdatedV1, purpose: Purpose
    ) -> Rendered:
        """The account's template for this mail; the built-in one if it is missing or broken,
        so a template error never sends a broken mail (and never blocks the reply)."""
        values = context(event.item, account, event.message)
        if purpose == "notification":
            return render(BUILTIN_NOTIFICATION, values)
        template_id = account.auto_reply.template_id
        template = await self.store.get_template(template_id) if template_id else None
        if template_id and template is None:
            log.warning("auto-reply template missing, using the built-in one", template=template_id)
        if template is not None:
            try:
                return render(template, values)
            except TemplateError as exc:
                log.warning(
                    "auto-reply template broken, using the built-in one",
                    template=template_id,
                    error=str(exc),
                )
        return render(BUILTIN_AUTO_REPLY, values)

    async def _smtp_target(self) -> SmtpTarget:
        stored = await self.store.get_smtp_settings()
        s = self.settings
        if stored is None:
            return SmtpTarget(
                host=s.smtp_host,
                port=s.smtp_port,
                security=s.smtp_security,
                verify_tls=s.smtp_verify_tls,
                username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                timeout_s=s.smtp_timeout_s,
            )
        return SmtpTarget(
            host=stored.host,
            port=stored.port,
            security=stored.security,
            verify_tls=stored.verify_tls,
            username=stored.username,
            password=self.secrets.decrypt(stored.password_enc) if stored.password_enc else None,
            timeout_s=s.smtp_timeout_s,
        )
