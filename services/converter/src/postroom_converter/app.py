"""Wiring: the converter's subscriber and its outbox relay, registered on a broker.

Failures are retried with backoff through delay queues (`postroom_shared.consumer`); on the
last try `Converter.handle` quarantines the mail instead of failing again.
"""

import asyncio
from collections.abc import Coroutine
from typing import Any

from faststream.rabbit import RabbitBroker

from postroom_converter.budget import Analyser
from postroom_converter.commands import register_commands
from postroom_converter.service import Converter
from postroom_converter.settings import ConverterSettings
from postroom_shared.config_hints import cached_config
from postroom_shared.consumer import subscribe
from postroom_shared.contracts import MailReceivedV1
from postroom_shared.logs import get_logger
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.messaging import OutboxRelay
from postroom_shared.retry import RetryPolicy
from postroom_shared.store import Store
from postroom_shared.topology import EVENTS, consumer_queue

__all__ = ["register"]

log = get_logger(__name__)


async def _relay_forever(converter: Converter, interval_s: float) -> None:
    relay = OutboxRelay(converter.broker, converter.store)
    while True:
        try:
            count = await relay.relay()
            if count:
                log.info("outbox relayed leftover events", count=count)
        except Exception as exc:
            log.warning("outbox relay failed", error=repr(exc))
        await asyncio.sleep(interval_s)


def register(
    broker: RabbitBroker, store: Store, settings: ConverterSettings
) -> list[Coroutine[Any, Any, None]]:
    """Subscribe the converter to `mail.received.v1`; returns its background loops."""
    # The account and its workflow are read for every mail: kept in memory, dropped on change.
    store, config_hints = cached_config(broker, store, settings, "converter")
    signer = MessageIdSigner.checking(settings.secret_key.get_secret_value())
    analyser = Analyser(signer, budget_s=settings.parse_budget_s, workers=settings.parse_workers)
    converter = Converter(store=store, broker=broker, signer=signer, analyser=analyser)

    async def convert(event: MailReceivedV1, final_attempt: bool) -> None:
        await converter.handle(event, final_attempt=final_attempt)

    subscribe(
        broker,
        consumer_queue("converter", "mail.received.v1"),
        EVENTS,
        MailReceivedV1,
        convert,
        RetryPolicy.from_settings(settings),
        description="Turns each received mail into an item or a thread message.",
    )
    # the sent mails' appends join the mails' group commit: one store call for both
    register_commands(
        broker,
        store,
        RetryPolicy.from_settings(settings),
        signer=signer,
        commit=converter.commit,
    )

    return [_relay_forever(converter, settings.outbox_relay_interval_s), config_hints]
