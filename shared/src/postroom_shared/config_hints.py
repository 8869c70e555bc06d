"""Configuration-change hints: whoever writes configuration says so on the broker, and every
replica that keeps configuration in memory (the fetcher's account list, the converter's and
the replier's config cache) reacts at once instead of at its next periodic re-read.

A hint is only ever a shortcut (docs/decisions.md "Configuration hints"): the store stays the
truth, and every listener keeps its periodic re-read or cache TTL for a hint that never came
(the broker was down, the listener was reconnecting). So hints are cheap and lossy on purpose:
transient messages on the durable topic exchange `postroom.config`, routed `config.changed.v1`,
each replica listening on an exclusive auto-delete queue of its own that goes away with its
connection. Announcing never fails the caller's request: a failed publish is logged.
"""

import asyncio
import json
import os
import socket
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from faststream.rabbit import ExchangeType, RabbitBroker, RabbitExchange, RabbitQueue

from postroom_shared.logs import get_logger
from postroom_shared.settings import CommonSettings
from postroom_shared.store import Store
from postroom_shared.store.config_cache import ConfigCache

__all__ = [
    "CONFIG_EXCHANGE",
    "CONFIG_ROUTING_KEY",
    "ConfigChange",
    "announce",
    "cached_config",
    "keep_listening",
    "listen",
]

log = get_logger(__name__)

CONFIG_EXCHANGE = RabbitExchange("postroom.config", type=ExchangeType.TOPIC, durable=True)
CONFIG_ROUTING_KEY = "config.changed.v1"
ANNOUNCE_TIMEOUT_S = 1.0  # a hint that cannot go out at once is not worth holding a request

# what: "account", "workflow", "smtp", "template", "fetch_now" (id: the account to fetch)
type What = str


@dataclass(frozen=True)
class ConfigChange:
    what: What
    id: str | None = None

    def body(self) -> bytes:
        return json.dumps({"what": self.what, "id": self.id}).encode()

    @classmethod
    def parse(cls, body: bytes) -> "ConfigChange | None":
        try:
            data = json.loads(body)
            what, ident = data["what"], data.get("id")
        except (ValueError, TypeError, KeyError):
            return None
        if not isinstance(what, str) or not (ident is None or isinstance(ident, str)):
            return None
        return cls(what, ident)


async def announce(broker: RabbitBroker, what: What, ident: str | None = None) -> None:
    """Tell every listening replica that `what` (`ident`) changed in the store; never raises."""
    change = ConfigChange(what, ident)
    try:
        async with asyncio.timeout(ANNOUNCE_TIMEOUT_S):
            await broker.declare_exchange(CONFIG_EXCHANGE)  # cached after the first call
            await broker.publish(
                change.body(),
                exchange=CONFIG_EXCHANGE,
                routing_key=CONFIG_ROUTING_KEY,
                persist=False,
                mandatory=False,  # no replica listening is fine: they re-read periodically
                content_type="application/json",
                timeout=ANNOUNCE_TIMEOUT_S,
            )
    except Exception as exc:
        log.warning(
            "configuration hint not sent; listeners see the change at their next re-read",
            what=what,
            id=ident,
            error=repr(exc),
        )


async def listen(
    broker: RabbitBroker, replica: str, on_change: Callable[[ConfigChange], None]
) -> None:
    """Call `on_change` for every hint from now on, on a queue of this replica's own (its
    connection's: it goes when the connection goes, and aio-pika re-declares it on a
    reconnect). Raises when the broker cannot be reached (the caller retries later)."""
    exchange = await broker.declare_exchange(CONFIG_EXCHANGE)
    name = f"postroom.config.{replica}.{uuid.uuid4().hex[:12]}"
    queue = await broker.declare_queue(
        RabbitQueue(name, durable=False, exclusive=True, auto_delete=True)
    )
    await queue.bind(exchange, routing_key=CONFIG_ROUTING_KEY)

    async def deliver(message: Any) -> None:
        change = ConfigChange.parse(message.body)
        if change is None:
            log.warning("malformed configuration hint ignored")
            return
        try:
            on_change(change)
        except Exception as exc:
            log.warning("configuration hint handler failed", error=repr(exc))

    await queue.consume(deliver, no_ack=True)


async def keep_listening(
    broker: RabbitBroker,
    replica: str,
    on_change: Callable[[ConfigChange], None],
    *,
    retry_s: float,
) -> None:
    """`listen`, retrying every `retry_s` until the broker answers (a background task: until
    then the listener's periodic re-read is all there is)."""
    while True:
        try:
            await listen(broker, replica, on_change)
            return
        except Exception as exc:
            log.warning("not listening for configuration hints yet", error=repr(exc))
            await asyncio.sleep(retry_s)


def cached_config(
    broker: RabbitBroker, store: Store, settings: CommonSettings, service: str
) -> tuple[Store, Coroutine[Any, Any, None]]:
    """For a service's composition root: `store` with its configuration reads cached
    (`ConfigCache`, `POSTROOM_CONFIG_CACHE_TTL_S`), and the background task that drops the
    cache on every hint (start it once the broker is connected)."""
    ttl_s = settings.config_cache_ttl_s

    async def announce_write(what: str, ident: str | None) -> None:
        await announce(broker, what, ident)

    cache = ConfigCache(store, ttl_s=ttl_s, announce=announce_write)
    replica = f"{service}.{socket.gethostname()}:{os.getpid()}"

    def on_change(change: ConfigChange) -> None:
        cache.invalidate()

    return cache.as_store(), keep_listening(broker, replica, on_change, retry_s=ttl_s or 10.0)
