"""Wiring: the replier's subscribers, registered on a broker."""

import asyncio
from collections.abc import Coroutine
from typing import Any

from faststream import AckPolicy
from faststream.rabbit import RabbitBroker

from postroom_replier.service import Replier
from postroom_replier.settings import ReplierSettings
from postroom_shared.contracts import ItemCreatedV1, ItemUpdatedV1, MailQuarantinedV1
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.oauth import OAuthEndpoints, TokenSource
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store
from postroom_shared.topology import EVENTS, consumer_queue

__all__ = ["register"]


def register(
    broker: RabbitBroker, store: Store, settings: ReplierSettings
) -> list[Coroutine[Any, Any, None]]:
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

    @broker.subscriber(
        consumer_queue("replier", "item.created.v1"),
        EVENTS,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="replier.item.created.v1",
        description="Auto-replies to the first mail of a new item.",
    )
    async def on_item_created(event: ItemCreatedV1) -> None:
        await replier.handle(event)

    @broker.subscriber(
        consumer_queue("replier", "item.updated.v1"),
        EVENTS,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="replier.item.updated.v1",
        description="Decides on auto-replies to follow-up mail (silent by default).",
    )
    async def on_item_updated(event: ItemUpdatedV1) -> None:
        await replier.handle(event)

    @broker.subscriber(
        consumer_queue("replier", "mail.quarantined.v1"),
        EVENTS,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        title="replier.mail.quarantined.v1",
        description="Tells the sender of a mail left unprocessed for its size (once, loop-safe).",
    )
    async def on_mail_quarantined(event: MailQuarantinedV1) -> None:
        await replier.handle_quarantined(event)

    return [_close_on_stop(replier)]


async def _close_on_stop(replier: Replier) -> None:
    """Runs until the service stops, then stops the template render workers."""
    try:
        await asyncio.Event().wait()
    finally:
        await replier.aclose()
