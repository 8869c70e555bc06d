"""What the system did lately and what waits now: activity counts per hour (or day) and the
depth of every consumer queue and its dead-letter queue. The console's dashboard shows the
same answers through the same functions (`activity_report`, `queue_depths`).

Counts come from the processing log and the items (`OpsReader.activity`), so they reach back as
far as the log's retention (POSTROOM_RETENTION_*); queue depths are read over the API's kept
broker connection, as `/metrics` and `/v1/deadletters` do.
"""

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, HTTPException, Query

from postroom_api.auth import RequireRead
from postroom_api.deps import BrokerAdminDep, StoreDep
from postroom_api.routing import SafeRoute
from postroom_api.schemas.activity import ActivityView, QueueDepthView
from postroom_api.store import ApiStore
from postroom_shared.broker_admin import BrokerAdmin
from postroom_shared.deadletters import consumer_queues
from postroom_shared.logs import get_logger
from postroom_shared.models import utcnow
from postroom_shared.retry import dead_letter_queue
from postroom_shared.store.ports import ActivityCount, ActivityKind

__all__ = ["activity_report", "queue_depths", "router", "series"]

log = get_logger(__name__)
router = APIRouter(tags=["operations"], route_class=SafeRoute, dependencies=[RequireRead])
Range = Literal["24h", "7d"]
_SHAPES: dict[Range, tuple[Literal["hour", "day"], timedelta, int]] = {
    "24h": ("hour", timedelta(hours=1), 24),
    "7d": ("day", timedelta(days=1), 7),
}


def series(
    counts: Sequence[ActivityCount], starts: Sequence[datetime]
) -> dict[ActivityKind, list[int]]:
    """One count per bucket start and kind, zero where the store had nothing."""
    found = {(c.start, c.kind): c.count for c in counts}
    return {kind: [found.get((s, kind), 0) for s in starts] for kind in get_args(ActivityKind)}


async def activity_report(
    store: ApiStore, span: Range, now: datetime | None = None
) -> ActivityView:
    """The last 24 hours by hour (the current hour last), or the last 7 days by day."""
    bucket, step, n = _SHAPES[span]
    now = (now or utcnow()).astimezone(UTC)
    current = now.replace(minute=0, second=0, microsecond=0)
    if bucket == "day":
        current = current.replace(hour=0)
    starts = [current - step * (n - 1 - i) for i in range(n)]
    until = current + step
    counts = series(await store.activity(since=starts[0], until=until, bucket=bucket), starts)
    return ActivityView(
        bucket=bucket,
        since=starts[0],
        until=until,
        starts=starts,
        counts=counts,
        totals={kind: sum(values) for kind, values in counts.items()},
    )


async def queue_depths(admin: BrokerAdmin) -> list[QueueDepthView]:
    """Every consumer queue with its waiting messages, consumers and dead letters; a queue
    not declared yet shows zeros. Bounded like the metrics' read: a broker that accepts the
    connection but stalls fails the call instead of holding the page."""
    names = consumer_queues()
    async with asyncio.timeout(admin.timeout_s * 2):
        depths = await admin.depths([*names, *map(dead_letter_queue, names)])
    return [
        QueueDepthView(
            queue=name,
            ready=depths.get(name, (0, 0))[0],
            consumers=depths.get(name, (0, 0))[1],
            dead_letters=depths.get(dead_letter_queue(name), (0, 0))[0],
        )
        for name in names
    ]


@router.get("/v1/activity", summary="Mails, items and replies per hour (24h) or per day (7d)")
async def activity(
    store: StoreDep,
    span: Annotated[Range, Query(alias="range", description="24h by hour, or 7d by day.")] = "24h",
) -> ActivityView:
    return await activity_report(store, span)


@router.get(
    "/v1/queues",
    summary="Every consumer queue's depth, consumers and dead letters",
    responses={503: {"description": "The broker is unreachable; try again."}},
)
async def queues(admin: BrokerAdminDep) -> list[QueueDepthView]:
    try:
        return await queue_depths(admin)
    except Exception as exc:
        log.warning("queue depths not read", error=repr(exc))
        raise HTTPException(status_code=503, detail=f"broker unreachable: {exc!r}") from None
