"""Wiring: the replier's subscribers, registered on a broker.

Failures are retried with backoff through delay queues; after the last try the event is
parked in `<queue>.dlq` (`postroom_shared.consumer`), from where `postroom dlq replay` brings
it back.
"""

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from faststream.rabbit import RabbitBroker

from postroom_replier.service import Replier
from postroom_replier.settings import ReplierSettings
from postroom_shared.config_hints import cached_config
from postroom_shared.consumer import subscribe
from postroom_shared.contracts import (
    EventEnvelope,
    ItemCreatedV1,
    ItemUpdatedV1,
    MailQuarantinedV1,
)
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.oauth import OAuthEndpoints, TokenSource
from postroom_shared.retry import RetryPolicy
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store
from postroom_shared.topology import EVENTS, consumer_queue

__all__ = ["register"]


def register(
    broker: RabbitBroker, store: Store, settings: ReplierSettings
) -> list[Coroutine[Any, Any, None]]:
    # The account, every account's address, SMTP settings and templates are read for every
    # event: kept in memory, dropped on change.
    store, config_hints = cached_config(broker, store, settings, "replier")
    secret = settings.secret_key.get_secret_value()
    secrets = SecretBox.from_settings(settings)  # decrypts under rotated-out keys too
    replier = Replier(
        store=store,
        broker=broker,
        signer=MessageIdSigner(secret, domain="postroom.invalid"),
        secrets=secrets,
        settings=settings,
        # XOAUTH2 tokens for a stored SMTP server that uses auth xoauth2 (nothing connects
        # until such a server is configured and a mail goes out)
        tokens=TokenSource(store, secrets, OAuthEndpoints.from_settings(settings)),
    )

    policy = RetryPolicy.from_settings(settings)

    async def on_created(event: ItemCreatedV1, final_attempt: bool) -> None:
        await replier.handle(event)

    async def on_updated(event: ItemUpdatedV1, final_attempt: bool) -> None:
        await replier.handle(event)

    async def on_quarantined(event: MailQuarantinedV1, final_attempt: bool) -> None:
        await replier.handle_quarantined(event)

    _subscribe(
        broker, policy, ItemCreatedV1, on_created, "Auto-replies to the first mail of a new item."
    )
    _subscribe(
        broker,
        policy,
        ItemUpdatedV1,
        on_updated,
        "Decides on auto-replies to follow-up mail (silent by default).",
    )
    _subscribe(
        broker,
        policy,
        MailQuarantinedV1,
        on_quarantined,
        "Tells the sender of a mail left unprocessed for its size (once, loop-safe).",
    )
    return [_close_on_stop(replier), config_hints]


def _subscribe[E: EventEnvelope](
    broker: RabbitBroker,
    policy: RetryPolicy,
    model: type[E],
    handle: Callable[[E, bool], Awaitable[None]],
    description: str,
) -> None:
    queue = consumer_queue("replier", model.model_fields["type"].default)
    subscribe(broker, queue, EVENTS, model, handle, policy, description=description)


async def _close_on_stop(replier: Replier) -> None:
    """Runs until the service stops, then stops the template render workers."""
    try:
        await asyncio.Event().wait()
    finally:
        await replier.aclose()
