"""Service heartbeats: how the API (and container health checks) know a service is ready.

Each service writes a heartbeat to the store every few seconds while its broker connection and
store work; a heartbeat older than `STALE_AFTER` counts as down.
"""

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta

from postroom_shared.logs import get_logger
from postroom_shared.models import ServiceHeartbeat, utcnow
from postroom_shared.store.ports import Heartbeats

__all__ = ["STALE_AFTER", "fresh_services", "heartbeat_loop", "instance_name"]

STALE_AFTER = timedelta(seconds=20)
log = get_logger(__name__)


def instance_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def heartbeat_loop(
    store: Heartbeats,
    service: str,
    interval_s: float,
    readiness: Callable[[], Awaitable[str | None]],
) -> None:
    """Forever: ask `readiness` (None = ready, else what is wrong) and record the answer."""
    instance = instance_name()
    while True:
        try:
            problem = await readiness()
            await store.heartbeat(
                ServiceHeartbeat(
                    service=service, instance=instance, ready=problem is None, detail=problem or ""
                )
            )
        except Exception as exc:  # a store outage must not kill the service
            log.warning("heartbeat failed", error=repr(exc))
        await asyncio.sleep(interval_s)


async def fresh_services(store: Heartbeats) -> dict[str, ServiceHeartbeat]:
    """The newest ready heartbeat per service, among those that are not stale."""
    beats = await store.heartbeats(since=utcnow() - STALE_AFTER)
    best: dict[str, ServiceHeartbeat] = {}
    for beat in sorted(beats, key=lambda b: b.seen_at):
        if beat.ready or beat.service not in best:
            best[beat.service] = beat
    return best
