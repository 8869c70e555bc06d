"""Dead-letter queues: what a consumer gave up on, to inspect, replay or purge (admin only).

Every consumer queue has `<queue>.dlq`; a message lands there after its last try (the converter
quarantines mail instead, and parks only what it could not even quarantine), when it is no
valid event, or when the broker gave up redelivering it. Replay moves messages back to their
consumer queue with the attempt counter reset, each one confirmed by the broker before it
leaves the DLQ. The same operations: `postroom dlq list|show|replay|purge`.
"""

from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query

from postroom_api.auth import RequireAdmin
from postroom_api.deps import BrokerAdminDep
from postroom_api.routing import NOT_FOUND, SafeRoute, not_found
from postroom_api.schemas.deadletters import (
    DeadLetterDetail,
    DeadLetterPage,
    DeadLetterQueueView,
    DeadLetterView,
    MovedView,
)
from postroom_shared import deadletters
from postroom_shared.broker_admin import BrokerAdmin
from postroom_shared.logs import get_logger
from postroom_shared.retry import dead_letter_queue

__all__ = ["MessageId", "QueueName", "first_dead_letters", "router"]

log = get_logger(__name__)
router = APIRouter(
    prefix="/v1/deadletters",
    tags=["dead letters"],
    route_class=SafeRoute,
    dependencies=[RequireAdmin],
)

QueueName = Annotated[
    str,
    Path(
        pattern=r"^[a-z]+\.[a-z_.]+\.v[0-9]+$",
        description="A consumer queue (`GET /v1/deadletters` lists them).",
        examples=["converter.mail.received.v1"],
    ),
]
MessageId = Annotated[str, Path(max_length=200, description="The message (event) id.")]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    503: {"description": "The broker is unreachable or did not confirm; try again."},
}


async def _call[T](queue: str, operation: Awaitable[T]) -> T:
    try:
        return await operation
    except deadletters.UnknownQueueError:
        raise not_found(f"no consumer queue {queue!r} (or its DLQ was never declared)") from None
    except Exception as exc:
        log.warning("dead-letter operation failed", queue=queue, error=repr(exc))
        raise HTTPException(status_code=503, detail=f"broker operation failed: {exc!r}") from None


@router.get(
    "", summary="Every consumer queue's dead-letter queue and its count", responses=_RESPONSES
)
async def list_queues(admin: BrokerAdminDep) -> list[DeadLetterQueueView]:
    counts = await _call("*", deadletters.dlq_counts(admin))
    return [
        DeadLetterQueueView(queue=queue, dead_letter_queue=dead_letter_queue(queue), count=count)
        for queue, count in counts.items()
    ]


@router.get("/{queue}", summary="The first dead letters of one queue", responses=_RESPONSES)
async def list_messages(
    admin: BrokerAdminDep, queue: QueueName, limit: Annotated[int, Query(ge=1, le=1000)] = 20
) -> DeadLetterPage:
    return await first_dead_letters(admin, queue, limit)


async def first_dead_letters(
    admin: BrokerAdmin, queue: str, limit: int, *, with_body: bool = False
) -> DeadLetterPage:
    """The count and the first `limit` dead letters of `queue` (with their bodies for the
    console's excerpts: `DeadLetterDetail`s)."""
    listing = deadletters.list_dead_letters(admin, queue, limit=limit, with_body=with_body)
    count, infos = await _call(queue, listing)
    view = DeadLetterDetail.detail if with_body else DeadLetterView.of
    return DeadLetterPage(queue=queue, count=count, messages=[view(i) for i in infos])


@router.get(
    "/{queue}/messages/{message_id}", summary="One dead letter with its body", responses=_RESPONSES
)
async def show_message(
    admin: BrokerAdminDep, queue: QueueName, message_id: MessageId
) -> DeadLetterDetail:
    info = await _call(queue, deadletters.show(admin, queue, message_id))
    if info is None:
        raise not_found(f"no dead letter {message_id} in {dead_letter_queue(queue)}")
    return DeadLetterDetail.detail(info)


@router.post(
    "/{queue}/replay",
    summary="Move every dead letter back to its consumer queue (attempts reset)",
    responses=_RESPONSES,
)
async def replay_all(admin: BrokerAdminDep, queue: QueueName) -> MovedView:
    moved = await _call(queue, deadletters.replay(admin, queue))
    log.info("dead letters replayed", queue=queue, count=moved)
    return MovedView(queue=queue, count=moved)


@router.post(
    "/{queue}/messages/{message_id}/replay",
    summary="Move one dead letter (every copy with this id) back to its consumer queue",
    responses=_RESPONSES,
)
async def replay_one(admin: BrokerAdminDep, queue: QueueName, message_id: MessageId) -> MovedView:
    moved = await _call(queue, deadletters.replay(admin, queue, message_id))
    if not moved:
        raise not_found(f"no dead letter {message_id} in {dead_letter_queue(queue)}")
    log.info("dead letter replayed", queue=queue, message_id=message_id)
    return MovedView(queue=queue, count=moved)


@router.post("/{queue}/purge", summary="Drop every dead letter of one queue", responses=_RESPONSES)
async def purge(admin: BrokerAdminDep, queue: QueueName) -> MovedView:
    purged = await _call(queue, deadletters.purge(admin, queue))
    log.warning("dead letters purged", queue=queue, count=purged)
    return MovedView(queue=queue, count=purged)
