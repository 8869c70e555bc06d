"""Several broker addresses, and a connection that moves to the next one when its node dies.

`POSTROOM_BROKER_URL` may name every node of a RabbitMQ cluster, comma-separated. A process
connects to the first address that answers and, when that node goes away, reconnects to the
next one without a restart (docs/architecture.md "Broker failover").

aio-pika's `RobustConnection` already reconnects, re-opens its channels (publisher confirms
included), re-declares what they declared and restarts their consumers; it only ever dials the
one URL it was made with. `FailoverConnection` changes just that: every time its connection
closes under it, or an attempt to open one fails (aio-pika reports both through
`_on_connection_close`), the next attempt dials the next address. FastStream builds its
connection with `aio_pika.connect_robust`, whose `connection_class` parameter takes the class;
`ClusterBroker` hands it over, and keeps the position in the list across the connection
objects it makes, so a retried first connect starts where the last one gave up.
"""

import asyncio
import time
from typing import Any

from aio_pika import RobustConnection
from faststream.rabbit import RabbitBroker
from yarl import URL

from postroom_shared.broker_addresses import AddressRing, redacted
from postroom_shared.logs import get_logger

__all__ = ["ClusterBroker", "FailoverConnection"]

log = get_logger(__name__)


class FailoverConnection(RobustConnection):
    """A robust connection that dials `ring.current`, and the next address after each loss or
    failed attempt. Made through `ClusterBroker`, which sets `ring`."""

    ring: AddressRing

    def __init__(self, url: URL, loop: asyncio.AbstractEventLoop | None = None, **kw: Any):
        super().__init__(url, loop, **kw)
        self.url = URL(self.ring.current)

    async def _on_connection_close(self, closing: asyncio.Future[Any]) -> None:
        if not self._close_called and not self.is_closed:
            was_up = self.connected.is_set()
            lost = self.ring.current
            self.url = URL(self.ring.advance())
            if was_up:
                log.warning(
                    "broker connection lost; reconnecting",
                    lost=redacted(lost),
                    next=redacted(self.ring.current),
                )
        await super()._on_connection_close(closing)

    async def _on_connected(self) -> None:
        await super()._on_connected()
        if self.connection_attempt > 1:  # a reconnection, not the first connect
            log.info("broker connection restored", address=redacted(self.ring.current))


class ClusterBroker(RabbitBroker):
    """A `RabbitBroker` over one or several addresses (`broker_addresses`); with one it behaves
    exactly like a plain `RabbitBroker` of that URL."""

    def __init__(self, addresses: tuple[str, ...], **kwargs: Any) -> None:
        self.ring = AddressRing(addresses)
        self._renewed_at = float("-inf")
        super().__init__(addresses[0], **kwargs)
        bound = type("BoundFailoverConnection", (FailoverConnection,), {"ring": self.ring})
        # passed on to aio_pika.connect_robust(connection_class=...) by RabbitBroker._connect
        self._connection_kwargs["connection_class"] = bound

    async def renew_channel(self) -> None:
        """Close the channel publishes go through under aio-pika, which opens it again at once
        (publisher confirms, prefetch, declarations and consumers restored); called after the
        broker nacked a publish. Seen on RabbitMQ 3.10.8: before a channel's first publish to a
        quorum queue, the queue client asks the first member it knows, and right after a node
        died the queue record still names that node first; `{badrpc, nodedown}` rejects the
        publish and leaves the client as it was, so that channel's publishes to that queue
        are nacked for good (rabbit_fifo_client:enqueue/3, pick_server/1). A new channel
        starts clean. Handlers running on the old one are cancelled, as on a lost connection.
        At most once a second: the nacks of one batch arrive together."""
        if time.monotonic() - self._renewed_at < 1.0:
            return
        self._renewed_at = time.monotonic()
        channel = await self.config.channel_manager.get_channel()
        underlay = await channel.get_underlay_channel()
        log.warning("broker nacked a publish; renewing the channel", address=self.address)
        await underlay.close()

    @property
    def address(self) -> str:
        """The address in use (or to be dialled next), password removed."""
        return redacted(self.ring.current)
