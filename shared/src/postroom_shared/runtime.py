"""The life of a service process: connect, declare, serve, beat, stop cleanly.

Each service's `__main__` hands `serve` its name, settings and a `setup` function that
registers subscribers on the broker and returns the background loops it needs. `serve` owns
everything else: logging, the store, retrying the broker until it is up, the topology, the
heartbeat, the Prometheus /metrics server (`run_service`: POSTROOM_METRICS_PORT, by default
the service's port in `metrics.DEFAULT_PORTS`), and an orderly stop on SIGTERM/SIGINT (in-flight
messages finish, then the store closes).
"""

import asyncio
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from faststream.rabbit import RabbitBroker
from faststream.rabbit.schemas import Channel

from postroom_shared.broker_addresses import broker_addresses
from postroom_shared.broker_failover import ClusterBroker
from postroom_shared.health import heartbeat_loop
from postroom_shared.logs import configure_logging, get_logger
from postroom_shared.messaging import set_publish_timeout
from postroom_shared.metrics import DEFAULT_PORTS, start_metrics_server
from postroom_shared.retry import RetryPolicy
from postroom_shared.settings import CommonSettings
from postroom_shared.store import Store, open_store
from postroom_shared.topology import declare_topology

__all__ = ["Setup", "connect_with_retry", "make_broker", "run_service", "serve"]

Background = list[Coroutine[Any, Any, None]]
Setup = Callable[[RabbitBroker, Store], Awaitable[Background]]

log = get_logger(__name__)

# Bounds the dial of one address: an address whose host is gone (no refusal, no answer) would
# otherwise hold the move to the next one for the kernel's TCP timeout, minutes.
CONNECT_TIMEOUT_S = 10.0


def make_broker(settings: CommonSettings, *, prefetch: int = 8) -> ClusterBroker:
    """A broker with publisher confirms, returned mandatory messages raised as errors, a
    deadline on every confirm and a bounded prefetch, over every address of
    POSTROOM_BROKER_URL (`broker_failover`); it does not connect yet."""
    broker = ClusterBroker(
        broker_addresses(settings.broker_url),
        timeout=CONNECT_TIMEOUT_S,
        default_channel=Channel(
            prefetch_count=prefetch, publisher_confirms=True, on_return_raises=True
        ),
        graceful_timeout=30.0,
        logger=None,
        apply_types=False,  # `consumer.subscribe` hands the message over as it came
    )
    set_publish_timeout(broker, settings.publish_timeout_s)
    return broker


async def connect_with_retry(broker: RabbitBroker, deadline_s: float = 120.0) -> None:
    """Connect, retrying with backoff while RabbitMQ is not up yet (it starts slowly). A
    `ClusterBroker` tries each of its addresses in turn, and backs off only once all failed."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    delay = 0.5
    addresses = len(broker.ring) if isinstance(broker, ClusterBroker) else 1
    failures = 0
    while True:
        try:
            await broker.connect()
            if isinstance(broker, ClusterBroker):
                log.info("broker connected", address=broker.address)
            return
        except (OSError, ConnectionError) as exc:
            if loop.time() > end:
                raise
            failures += 1
            if failures % addresses:  # the next address, at once
                continue
            log.warning("broker not reachable yet, retrying", error=repr(exc), retry_in_s=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def serve(
    service: str,
    settings: CommonSettings,
    setup: Setup,
    *,
    prefetch: int = 8,
    metrics_port: int = 0,
) -> None:
    """Run `service` until SIGTERM or SIGINT; `metrics_port` 0 serves no /metrics."""
    configure_logging(service, settings.log_level)
    metrics = start_metrics_server(settings.metrics_host, metrics_port) if metrics_port else None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    store = await open_store(settings.store_url, settings.store_options())
    broker = make_broker(settings, prefetch=prefetch)
    background = await setup(broker, store)
    await connect_with_retry(broker)
    await declare_topology(broker, RetryPolicy.from_settings(settings))
    await broker.start()

    async def readiness() -> str | None:
        if not await broker.ping(timeout=2.0):
            return "broker connection down"
        await store.ping()
        return None

    tasks = [
        asyncio.create_task(
            heartbeat_loop(store, service, settings.heartbeat_interval_s, readiness)
        ),
        *(asyncio.create_task(coro) for coro in background),
    ]
    log.info("service started", store=settings.store_url.split(":", 1)[0])
    try:
        await stop.wait()
    finally:
        log.info("service stopping")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await broker.stop()
        await store.close()
        if metrics is not None:
            metrics.close()
        log.info("service stopped")


def run_service[S: CommonSettings](
    service: str, settings_type: type[S], register: Callable[[RabbitBroker, Store, S], Background]
) -> None:
    """The body of every service's `main()`: read settings, then `serve` until stopped."""
    settings = settings_type()  # type: ignore[call-arg]  # values come from the environment

    async def setup(broker: RabbitBroker, store: Store) -> Background:
        return register(broker, store, settings)

    prefetch = getattr(settings, "prefetch", 8)
    port = settings.metrics_port
    metrics_port = DEFAULT_PORTS.get(service, 0) if port is None else port
    asyncio.run(serve(service, settings, setup, prefetch=int(prefetch), metrics_port=metrics_port))
