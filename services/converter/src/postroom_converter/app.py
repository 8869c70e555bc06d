"""Wiring: the converter's subscriber and its outbox relay, registered on a broker."""

import asyncio
from collections.abc import Coroutine
from typing import Any

from faststream import AckPolicy
from faststream.rabbit import RabbitBroker, RabbitMessage

from postroom_converter.budget import Analyser
from postroom_converter.service import Converter
from postroom_converter.settings import ConverterSettings
from postroom_shared.contracts import MailReceivedV1
from postroom_shared.logs import get_logger
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.messaging import relay_outbox
from postroom_shared.store import Store
from postroom_shared.topology import DELIVERY_LIMIT, EVENTS, consumer_queue

__all__ = ["register"]

log = get_logger(__name__)


async def _relay_forever(converter: Converter, interval_s: float) -> None:
    while True:
        try:
            count = await relay_outbox(converter.broker, converter.store)
            if count:
                log.info("outbox relayed leftover events", count=count)
        except Exception as exc:
            log.warning("outbox relay failed", error=repr(exc))
        await asyncio.sleep(interval_s)


def register(
    broker: RabbitBroker, store: Store, settings: ConverterSettings
) -> list[Coroutine[Any, Any, None]]:
    """Subscribe the converter to `mail.received.v1`; returns its background loops."""
    signer = MessageIdSigner(settings.secret_key.get_secret_value(), domain="")
    analyser = Analyser(signer, budget_s=settings.parse_budget_s, workers=settings.parse_workers)
    converter = Converter(store=store, broker=broker, signer=signer, analyser=analyser)

    @broker.subscriber(
        consumer_queue("converter", "mail.received.v1"),
        EVENTS,
        ack_policy=AckPolicy.NACK_ON_ERROR,  # requeue; the quorum delivery limit then DLQs it
        title="converter.mail.received.v1",
        description="Turns each received mail into an item or a thread message.",
    )
    async def on_mail_received(event: MailReceivedV1, message: RabbitMessage) -> None:
        # Quorum queues count deliveries; the last one quarantines instead of dead-lettering.
        headers = message.raw_message.headers or {}
        deliveries = int(str(headers.get("x-delivery-count", 0) or 0))
        await converter.handle(event, final_attempt=deliveries >= DELIVERY_LIMIT - 1)

    return [_relay_forever(converter, settings.outbox_relay_interval_s)]
