"""One AMQP connection for looking into queues: depths for the metrics, dead letters for admins.

Opened on first use and kept: an unauthenticated `GET /metrics` must not cost the broker a new
connection per scrape. A connection that closed or failed is dropped and opened again by the
next call, on the first of the broker's addresses that answers (`broker_addresses`). Each
operation gets a short-lived channel of its own (with publisher confirms and returned messages
raised), because a failed passive declare closes its channel.
"""

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import aio_pika
import aio_pika.exceptions
import aiormq.exceptions
from aio_pika.abc import AbstractChannel, AbstractConnection

from postroom_shared.broker_addresses import AddressRing, broker_addresses
from postroom_shared.logs import get_logger

__all__ = ["BrokerAdmin", "QueueDepth"]

log = get_logger(__name__)

QueueDepth = tuple[int, int]  # (ready messages, consumers)


class BrokerAdmin:
    def __init__(self, amqp_url: str, *, timeout_s: float = 5.0) -> None:
        """`amqp_url`: a POSTROOM_BROKER_URL value, one AMQP URL or several comma-separated."""
        self.ring = AddressRing(broker_addresses(amqp_url))
        self.timeout_s = timeout_s
        self.connections_opened = 0
        self._connection: AbstractConnection | None = None
        self._lock = asyncio.Lock()

    async def _connected(self) -> AbstractConnection:
        async with self._lock:
            if self._connection is None or self._connection.is_closed:
                self._connection = await self._dial()
                self.connections_opened += 1
            return self._connection

    async def _dial(self) -> AbstractConnection:
        """The first address that answers, starting with the one that answered last."""
        for _ in range(len(self.ring) - 1):
            try:
                return await aio_pika.connect(self.ring.current, timeout=self.timeout_s)
            except (OSError, ConnectionError, aiormq.exceptions.AMQPConnectionError) as exc:
                log.warning("broker address not reachable", error=repr(exc))
                self.ring.advance()
        return await aio_pika.connect(self.ring.current, timeout=self.timeout_s)

    async def _drop(self) -> None:
        async with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed:
            try:
                await asyncio.wait_for(connection.close(), timeout=self.timeout_s)
            except Exception as exc:  # it is being thrown away anyway
                log.debug("broken admin connection did not close cleanly", error=repr(exc))

    @asynccontextmanager
    async def channel(self) -> AsyncIterator[AbstractChannel]:
        """A fresh channel on the shared connection, closed afterwards; a connection-level
        failure drops the connection so the next call opens a new one."""
        try:
            connection = await self._connected()
            channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        except Exception:
            await self._drop()
            raise
        try:
            yield channel
        except (TimeoutError, ConnectionError, aiormq.exceptions.AMQPConnectionError):
            await self._drop()
            raise
        finally:
            if not channel.is_closed:
                try:
                    await asyncio.wait_for(channel.close(), timeout=self.timeout_s)
                except Exception as exc:
                    log.debug("admin channel did not close cleanly", error=repr(exc))

    async def depths(self, names: Iterable[str]) -> dict[str, QueueDepth]:
        """(ready messages, consumers) of each queue that exists, read with passive declares
        (the management plugin may be off); a queue that does not exist is left out."""
        found: dict[str, QueueDepth] = {}
        pending = list(names)
        while pending:
            async with self.channel() as channel:
                while pending:
                    name = pending.pop(0)
                    try:
                        queue = await channel.declare_queue(
                            name, passive=True, timeout=self.timeout_s
                        )
                    except aio_pika.exceptions.ChannelNotFoundEntity:
                        break  # the failed declare closed this channel: go on with a new one
                    result = queue.declaration_result
                    found[name] = (result.message_count or 0, result.consumer_count or 0)
        return found

    async def close(self) -> None:
        await self._drop()
