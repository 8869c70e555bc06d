"""The replier's use case: for each item event, send the auto-replies and notifications the loop
rules allow; for each mail quarantined for its size, the notice to its sender.

Each mail takes one path (`delivery.py`: ledger, limits, claim, SMTP, ledger) and is reported
once (`reports.py`: `reply.*` event and processing log). A sent auto-reply or notification
goes on the item's thread through its owner, the converter: a `item.record_sent_mail.v1`
command, confirmed by the broker before the event is acked, and sent again (it is idempotent)
whenever a redelivery finds the mail already sent (docs/decisions.md, "One owner for the item").
"""

import hashlib
from dataclasses import dataclass, field
from typing import Literal

from faststream.rabbit import RabbitBroker

from postroom_replier.adapters.smtp import SmtpTarget
from postroom_replier.delivery import Delivery
from postroom_replier.domain.compose import compose_auto_reply, compose_too_large_notice
from postroom_replier.domain.loop_rules import plan_auto_reply
from postroom_replier.domain.notify_rules import plan_notifications
from postroom_replier.domain.sent_mail import inbound_mail, record_sent_mail
from postroom_replier.domain.templates import Rendered
from postroom_replier.domain.too_large import LEDGER_REASON, notice_key, plan_too_large_notice
from postroom_replier.outbound import AccessTokens, resolve_target
from postroom_replier.renderer import TemplateRenderer
from postroom_replier.reports import Reports
from postroom_replier.settings import ReplierSettings
from postroom_replier.store import ReplierStore
from postroom_replier.templating import render_for
from postroom_shared.contracts import ItemCreatedV1, ItemUpdatedV1, MailQuarantinedV1
from postroom_shared.logs import bind, get_logger
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.messaging import publish_command
from postroom_shared.models import EmailAccount, LedgerEntry, utcnow
from postroom_shared.secretbox import SecretBox

__all__ = ["Replier"]

Kind = Literal["auto_reply", "notification"]
ItemEvent = ItemCreatedV1 | ItemUpdatedV1
log = get_logger(__name__)


def _nonce(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]


@dataclass
class Replier:
    store: ReplierStore
    broker: RabbitBroker
    signer: MessageIdSigner
    secrets: SecretBox
    settings: ReplierSettings
    tokens: AccessTokens | None = None  # XOAUTH2 for the stored SMTP server
    renderer: TemplateRenderer | None = None  # for stored templates; made on first use
    reports: Reports = field(init=False)
    delivery: Delivery = field(init=False)

    def __post_init__(self) -> None:
        self.reports = Reports(self.store, self.broker)
        self.delivery = Delivery(self.store, self.settings, self._smtp_target)

    async def aclose(self) -> None:
        """Stop the template render workers (a render in progress finishes first)."""
        if self.renderer is not None:
            await self.renderer.aclose()

    async def handle(self, event: ItemEvent) -> None:
        if event.message is None:  # a change made by a command: no mail to answer here
            return
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
                account=account, event=kind, message=inbound_mail(event), own_addresses=own
            )
            item_id = event.item.item_id
            for recipient, why in plan.suppressed:
                await self.reports.suppressed(event, item_id, "auto_reply", recipient, why)
            for recipient in plan.recipients:
                await self._send(event, account, recipient, "auto_reply")
            item = await self.store.get_item(item_id)
            if item is None:
                return
            notify = plan_notifications(
                item=item, event=kind, message=inbound_mail(event), own_addresses=own
            )
            for recipient, why in notify.suppressed:
                await self.reports.suppressed(event, item_id, "notification", recipient, why)
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
                await self.reports.suppressed(event, key, "too_large", plan.recipient, why)
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
            outcome = await self.delivery.deliver(claim, mail, "too_large", account.id)
            await self.reports.outcome(event, key, claim, outcome, "too_large")

    async def _send(
        self, event: ItemEvent, account: EmailAccount, recipient: str, kind: Kind
    ) -> None:
        """Send one automatic mail (auto-reply or notification) about an item at most once,
        within limits, and have its owner put it on the item's thread."""
        item = event.item
        message_id = self.signer.make(
            item.item_id,
            _nonce(str(event.event_id), recipient),
            domain=account.address.rsplit("@", 1)[-1],
        )
        claim = LedgerEntry(
            item_id=item.item_id,
            reason=f"{kind}:{inbound_mail(event).mail_key}",
            recipient=recipient,
            message_id=message_id,
        )
        mail = compose_auto_reply(
            account=account,
            item=item,
            inbound=inbound_mail(event),
            recipient=recipient,
            message_id=message_id,
            instance=self.settings.instance,
            rendered=await self._render(account, event, kind, recipient),
            auto_submitted="auto-replied" if kind == "auto_reply" else "auto-generated",
        )
        outcome = await self.delivery.deliver(claim, mail, kind, account.id)
        if outcome.state == "sent":  # now, or before this redelivery: asking again is harmless
            await publish_command(
                self.broker,
                record_sent_mail(
                    event=event,
                    account=account,
                    recipient=recipient,
                    kind=kind,
                    message_id=message_id,
                    subject=str(mail["Subject"]),
                    sent_at=utcnow(),
                ),
            )
        await self.reports.outcome(event, item.item_id, claim, outcome, kind)

    async def _render(
        self, account: EmailAccount, event: ItemEvent, kind: Kind, recipient: str
    ) -> Rendered:
        return await render_for(
            self.store,
            self._template_renderer(),
            account=account,
            event=event,
            notification=kind == "notification",
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
