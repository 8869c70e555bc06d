"""The replier's use case: for each item event, send the auto-replies, notifications and team
replies it calls for; for each mail quarantined for its size, the notice to its sender.

Each mail takes one path (`delivery.py`: ledger, limits, claim, SMTP, ledger) and is reported
once (`reports.py`: `reply.*` event and processing log). A sent auto-reply or notification
goes on the item's thread through its owner, the converter: a `item.record_sent_mail.v1`
command, confirmed by the broker before the event is acked, and sent again (it is idempotent)
whenever a redelivery finds the mail already sent (docs/decisions.md, "One owner for the item").
A team reply is on the thread already (`team_reply.py`). Addresses with a bounce mark get no
automatic mail (`reply.suppressed.v1`, why `bounced_address: ...`).
"""

import hashlib
from dataclasses import dataclass, field
from typing import Literal

from faststream.rabbit import RabbitBroker

from postroom_replier.adapters.smtp import SmtpTarget
from postroom_replier.delivery import Delivery
from postroom_replier.domain.compose import compose_auto_reply, compose_too_large_notice
from postroom_replier.domain.loop_rules import ReplyPlan, plan_auto_reply
from postroom_replier.domain.notify_rules import (
    ledger_reason,
    not_to,
    notify_event,
    plan_notifications,
    without_bounced,
)
from postroom_replier.domain.sent_mail import record_sent_mail
from postroom_replier.domain.templates import Rendered, context
from postroom_replier.domain.too_large import LEDGER_REASON, notice_key, plan_too_large_notice
from postroom_replier.outbound import AccessTokens, RelaySettings, resolve_target
from postroom_replier.people import actor_addresses, actor_name, bounced_addresses
from postroom_replier.renderer import TemplateRenderer
from postroom_replier.reports import Reports, change_key
from postroom_replier.settings import ReplierSettings
from postroom_replier.store import ReplierStore
from postroom_replier.team_reply import SentReply, TeamReplies
from postroom_replier.templating import render_for
from postroom_shared.contracts import ItemCreatedV1, ItemUpdatedV1, MailQuarantinedV1
from postroom_shared.logs import bind, get_logger
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.models import EmailAccount, Item, LedgerEntry, NotifyEvent, utcnow
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
    team_replies: TeamReplies = field(init=False)
    _relay: RelaySettings = field(init=False)

    def __post_init__(self) -> None:
        self._relay = self.settings.relay()  # a settings model per send cost more than the send
        self.reports = Reports(self.store, self.broker)
        self.delivery = Delivery(self.store, self.settings, self._smtp_target)
        self.team_replies = TeamReplies(
            self.store, self.delivery, self.reports, self._render_reply, self.settings.instance
        )

    async def aclose(self) -> None:
        """Close the idle SMTP sessions and stop the template render workers (a render in
        progress finishes first)."""
        await self.delivery.pool.aclose()
        if self.renderer is not None:
            await self.renderer.aclose()

    async def handle(self, event: ItemEvent) -> None:
        with bind(
            mail_key=event.message.mail_key if event.message else None,
            correlation_id=event.correlation_id,
            item=event.item.token,
        ):
            account = await self.store.get_account(event.item.account_id)
            if account is None:
                log.warning("item event for an unknown account", account=event.item.account_id)
                return
            own = {a.address.lower() for a in await self.store.list_accounts()}
            created = isinstance(event, ItemCreatedV1)
            if event.message is not None:  # auto-replies answer mail, nothing else
                plan = plan_auto_reply(
                    account=account,
                    event="created" if created else "updated",
                    message=event.message,
                    own_addresses=own,
                )
                await self._send_all(event, account, "auto_reply", "mail_update", plan)
            replied = SentReply((), {})
            if isinstance(event, ItemUpdatedV1) and "reply_added" in event.changes:
                replied = await self.team_replies.send(event, account)
            changes = () if isinstance(event, ItemCreatedV1) else event.changes
            notify = notify_event(created, changes)
            item = await self.store.get_item(event.item.item_id)
            if notify is None or item is None:
                return
            actor = event.actor if isinstance(event, ItemUpdatedV1) else None
            plan = plan_notifications(
                item=item,
                event=notify,
                message=event.message,
                own_addresses=own,
                excluded=not_to(
                    actor_addresses=await actor_addresses(self.store, actor),
                    reply_recipients=replied.recipients,
                ),
            )
            await self._send_all(event, account, "notification", notify, plan, item, replied)

    async def _send_all(
        self,
        event: ItemEvent,
        account: EmailAccount,
        kind: Kind,
        notify: NotifyEvent,
        plan: ReplyPlan,
        item: Item | None = None,
        replied: SentReply | None = None,
    ) -> None:
        """Send what `plan` allows, except to bounced addresses; report what it holds back."""
        plan = without_bounced(plan, await bounced_addresses(self.store, plan.recipients))
        item_id = event.item.item_id
        for recipient, why in plan.suppressed:
            await self.reports.suppressed(event, item_id, kind, recipient, why)
        for recipient in plan.recipients:
            await self._send(event, account, recipient, kind, notify, item, replied)

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
            outcome = await self.delivery.deliver(
                claim,
                mail,
                "too_large",
                account.id,
                lambda response: self.reports.sent_entry(event, claim, response, "too_large"),
            )
            await self.reports.outcome(event, key, claim, outcome, "too_large")

    async def _send(
        self,
        event: ItemEvent,
        account: EmailAccount,
        recipient: str,
        kind: Kind,
        notify: NotifyEvent,
        item: Item | None,
        replied: SentReply | None,
    ) -> None:
        """Send one automatic mail (auto-reply or notification) about an item at most once,
        within limits, and have its owner put it on the item's thread."""
        ref = event.item
        message_id = self.signer.make(
            ref.item_id,
            _nonce(str(event.event_id), recipient),
            domain=account.address.rsplit("@", 1)[-1],
        )
        claim = LedgerEntry(
            item_id=ref.item_id,
            reason=ledger_reason(
                kind,
                notify,
                mail_key=event.message.mail_key if event.message else None,
                change_id=change_key(event),
            ),
            recipient=recipient,
            message_id=message_id,
        )
        change = _change(event, notify, item)
        said = replied.said if replied else None
        values = context(ref, account, event.message, change=change, reply=said)
        rendered = await render_for(
            self.store,
            self._template_renderer(),
            account=account,
            item=ref,
            purpose=kind,
            event=notify,
            values=values,
            log_key=change_key(event),
            recipient=recipient,
        )
        mail = compose_auto_reply(
            account=account,
            item=ref,
            inbound=event.message,
            recipient=recipient,
            message_id=message_id,
            instance=self.settings.instance,
            rendered=rendered,
            auto_submitted="auto-replied" if kind == "auto_reply" else "auto-generated",
        )
        outcome = await self.delivery.deliver(
            claim,
            mail,
            kind,
            account.id,
            lambda response: self.reports.sent_entry(event, claim, response, kind),
        )
        # sent now, or before this redelivery: asking the owner again is harmless
        command = (
            record_sent_mail(
                event=event,
                account=account,
                recipient=recipient,
                kind=kind,
                message_id=message_id,
                subject=mail.subject,
                sent_at=utcnow(),
            )
            if outcome.state == "sent"
            else None
        )
        await self.reports.outcome(event, ref.item_id, claim, outcome, kind, command=command)

    async def _render_reply(
        self, account: EmailAccount, event: ItemUpdatedV1, values: dict[str, object], to: str
    ) -> Rendered:
        return await render_for(
            self.store,
            self._template_renderer(),
            account=account,
            item=event.item,
            purpose="team_reply",
            event="team_reply",
            values=values,
            log_key=change_key(event),
            recipient=to,
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
            self.store, secrets=self.secrets, relay=self._relay, tokens=self.tokens
        )


def _change(event: ItemEvent, notify: NotifyEvent, item: Item | None) -> dict[str, str]:
    """What the templates say about the change: which event, who made it, the step now."""
    actor = event.actor if isinstance(event, ItemUpdatedV1) else None
    return {
        "event": notify,
        "actor": actor_name(actor),
        "workflow_step": (item.workflow_step or "") if item else "",
    }
