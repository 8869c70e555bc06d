"""Dead-letter queues for humans: list, show, replay and purge `<queue>.dlq`.

Used by `postroom dlq` and the API's `/v1/deadletters`. Reading a queue over AMQP means taking
messages off it, and handing them back (nack, or a closed channel) counts as a failed delivery
on quorum queues: RabbitMQ 4.0+ gives every quorum queue a delivery limit of 20 by default, so
twenty looks would silently drop a dead letter. Instead every pass moves each message it looks
at: a confirmed copy goes back to the tail of the DLQ (kept) or to its consumer queue with the
attempt counter reset (replayed), and only then is the original acked. A full pass keeps the
order; a crash mid-pass can leave a message twice, never lose one (consumers dedupe).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from aio_pika import DeliveryMode, Message
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from aio_pika.exceptions import ChannelNotFoundEntity, DeliveryError

from postroom_shared.broker_admin import BrokerAdmin
from postroom_shared.errors import TransientError
from postroom_shared.retry import (
    ATTEMPT_HEADER,
    ERROR_HEADER,
    FAILED_AT_HEADER,
    QUEUE_HEADER,
    attempt_of,
    copy_headers,
    dead_letter_queue,
)
from postroom_shared.topology import DLX, consumer_queue_names

__all__ = [
    "DeadLetterInfo",
    "UnknownQueueError",
    "consumer_queues",
    "describe",
    "dlq_counts",
    "list_dead_letters",
    "purge",
    "reason_of",
    "replay",
    "show",
]

MAX_PASS = 10_000  # messages one pass moves at most (a DLQ that long needs a purge anyway)


class UnknownQueueError(KeyError):
    """Not one of Postroom's consumer queues, or its DLQ was never declared."""


@dataclass(frozen=True)
class DeadLetterInfo:
    message_id: str | None
    type: str | None
    correlation_id: str | None
    queue: str
    attempt: int
    reason: str
    failed_at: str | None
    size: int
    headers: dict[str, str]
    body: bytes | None = None


class _Action(Enum):
    KEEP = "keep"
    REPLAY = "replay"


def consumer_queues() -> list[str]:
    return consumer_queue_names()


def _checked(queue: str) -> str:
    if queue not in consumer_queues():
        raise UnknownQueueError(queue)
    return queue


def reason_of(headers: Mapping[str, Any] | None) -> str:
    """Why a message was dead-lettered: our own reason header, else the broker's x-death."""
    headers = headers or {}
    ours = headers.get(ERROR_HEADER)
    if ours:
        return str(ours)
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], Mapping):
        death = deaths[0]
        why = {"delivery_limit": "redelivered too often (a consumer crashed on it?)"}.get(
            str(death.get("reason")), str(death.get("reason"))
        )
        return f"dead-lettered by the broker from {death.get('queue')}: {why}"
    reason = headers.get("x-first-death-reason")
    return f"dead-lettered by the broker: {reason}" if reason else "unknown"


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def describe(
    message: AbstractIncomingMessage, queue: str, *, with_body: bool = False
) -> DeadLetterInfo:
    headers = message.headers or {}
    failed_at = headers.get(FAILED_AT_HEADER)
    return DeadLetterInfo(
        message_id=message.message_id,
        type=message.type,
        correlation_id=message.correlation_id,
        queue=queue,
        attempt=attempt_of(headers),
        reason=reason_of(headers),
        failed_at=_text(failed_at) if failed_at is not None else None,
        size=len(message.body),
        headers={key: _text(value) for key, value in headers.items()},
        body=message.body if with_body else None,
    )


async def dlq_counts(admin: BrokerAdmin) -> dict[str, int]:
    """Messages in every consumer queue's DLQ (a DLQ not declared yet counts 0), from the
    queues' statistics: a message dead-lettered just now may show a few seconds later."""
    names = {dead_letter_queue(queue): queue for queue in consumer_queues()}
    depths = await admin.depths(names)
    return {queue: depths.get(dlq, (0, 0))[0] for dlq, queue in names.items()}


async def _move(
    channel: AbstractChannel,
    message: AbstractIncomingMessage,
    queue: str,
    action: _Action,
    timeout_s: float,
) -> None:
    """Publish the copy `action` asks for and wait for its confirm."""
    if action is _Action.REPLAY:
        # The default exchange reaches exactly `queue`, not every subscriber of the type.
        exchange = channel.default_exchange
        reset = {ATTEMPT_HEADER: None, ERROR_HEADER: None, FAILED_AT_HEADER: None}
        headers = copy_headers(message.headers, {**reset, QUEUE_HEADER: None})
    else:
        exchange = await channel.get_exchange(DLX.name, ensure=False)
        # What the broker wrote (x-death) becomes our reason header before it is dropped.
        headers = copy_headers(message.headers, {ERROR_HEADER: reason_of(message.headers)})
        headers.setdefault(QUEUE_HEADER, queue)
    try:
        await exchange.publish(
            _copy(message, headers), routing_key=queue, mandatory=True, timeout=timeout_s
        )
    except (DeliveryError, TimeoutError) as exc:
        raise TransientError(f"the broker did not take the copy: {exc!r}") from exc


def _copy(message: AbstractIncomingMessage, headers: dict[str, Any]) -> Message:
    return Message(
        message.body,
        headers=headers,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        message_id=message.message_id,
        correlation_id=message.correlation_id,
        type=message.type,
        timestamp=message.timestamp,
        delivery_mode=DeliveryMode.PERSISTENT,
    )


async def _pass(
    admin: BrokerAdmin, queue: str, choose: Callable[[AbstractIncomingMessage], _Action]
) -> int:
    """Move every message of `<queue>.dlq` once (those there when the pass began): `choose`
    says whether it is kept or replayed; returns how many the queue held at the start.

    The count comes from the first Basic.GetOk (exact), not from a passive declare: a quorum
    queue reports its depth there from statistics that lag by seconds.
    """
    async with admin.channel() as channel:
        try:
            dlq = await channel.declare_queue(dead_letter_queue(_checked(queue)), passive=True)
        except ChannelNotFoundEntity as exc:
            raise UnknownQueueError(queue) from exc
        total: int | None = None
        moved = 0
        while total is None or moved < min(total, MAX_PASS):
            message = await dlq.get(no_ack=False, fail=False, timeout=admin.timeout_s)
            if message is None:
                break
            if total is None:
                total = (message.message_count or 0) + 1
            await _move(channel, message, queue, choose(message), admin.timeout_s)
            await message.ack()  # only now: the copy is confirmed
            moved += 1
        return total or 0


async def list_dead_letters(
    admin: BrokerAdmin, queue: str, *, limit: int = 20, with_body: bool = False
) -> tuple[int, list[DeadLetterInfo]]:
    """How many messages `<queue>.dlq` holds, and the first `limit` of them (order kept),
    with their bodies if asked (the console shows an excerpt of each)."""
    seen: list[DeadLetterInfo] = []

    def look(message: AbstractIncomingMessage) -> _Action:
        if len(seen) < limit:
            seen.append(describe(message, queue, with_body=with_body))
        return _Action.KEEP

    count = await _pass(admin, queue, look)
    return count, seen


async def show(admin: BrokerAdmin, queue: str, message_id: str) -> DeadLetterInfo | None:
    """The first dead letter of `queue` with `message_id`, body included."""
    found: list[DeadLetterInfo] = []

    def look(message: AbstractIncomingMessage) -> _Action:
        if not found and message.message_id == message_id:
            found.append(describe(message, queue, with_body=True))
        return _Action.KEEP

    await _pass(admin, queue, look)
    return found[0] if found else None


async def replay(admin: BrokerAdmin, queue: str, message_id: str | None = None) -> int:
    """Move dead letters back to their consumer queue with the attempt count reset: every
    one, or those with `message_id`; returns how many."""
    moved = 0

    def pick(message: AbstractIncomingMessage) -> _Action:
        nonlocal moved
        if message_id is None or message.message_id == message_id:
            moved += 1
            return _Action.REPLAY
        return _Action.KEEP

    await _pass(admin, queue, pick)
    return moved


async def purge(admin: BrokerAdmin, queue: str) -> int:
    """Drop every message of `<queue>.dlq`; returns how many."""
    async with admin.channel() as channel:
        try:
            dlq = await channel.declare_queue(dead_letter_queue(_checked(queue)), passive=True)
        except ChannelNotFoundEntity as exc:
            raise UnknownQueueError(queue) from exc
        result = await dlq.purge()
        return int(result.message_count or 0)
