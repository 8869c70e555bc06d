"""Consuming with retries that back off and end: the subscriber body every consumer uses.

`subscribe` registers a service's handler on its queue, wrapped by `retrying`, which validates
the message into its contract, runs the handler with `final_attempt` set on the last try, and
on failure publishes a copy of the message, with `x-postroom-attempt` one higher, to the delay
queue of the next backoff step, or after the last try to `<queue>.dlq` (with the reason in
`x-postroom-error`). The original is acked only after the broker confirmed the copy; when even
the copy cannot be published the original is nacked back to its queue after a short pause (the
broker's delivery limit stays the backstop). A message that is no valid event goes to the DLQ
at once: no retry can fix it. The decisions themselves are pure (`retry.py`);
docs/architecture.md has the drawing.

The subscriber is FastStream's own (`broker.subscriber`: its queue declaration, AsyncAPI entry,
consumer restored by aio-pika after a reconnect, graceful stop), with one method replaced
(`_DirectSubscriber.consume`): FastStream runs every delivery through a context scope, a
middleware stack built per message (acknowledgement, critical-log), a parser making a
`RabbitMessage`, a decoder and a call wrapper, which cost about as much CPU as our whole
`retrying` body. `retrying` needs none of it: it takes the aio-pika message, and the
replacement does what `AckPolicy.NACK_ON_ERROR` did: ack on return, nack (requeue) on an
exception, neither when cancelled (the channel is gone; the broker redelivers)."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aio_pika import IncomingMessage
from aio_pika.abc import AbstractIncomingMessage
from faststream import AckPolicy
from faststream.message import StreamMessage
from faststream.rabbit import RabbitBroker, RabbitExchange, RabbitQueue
from faststream.rabbit.subscriber import RabbitSubscriber
from pydantic import BaseModel, ValidationError

from postroom_shared.errors import TransientError
from postroom_shared.logs import bind, get_logger
from postroom_shared.messaging import confirmed_publish
from postroom_shared.metrics import record_dead_lettered, record_retried
from postroom_shared.retry import (
    ATTEMPT_HEADER,
    ERROR_HEADER,
    FAILED_AT_HEADER,
    QUEUE_HEADER,
    DeadLetter,
    Retry,
    RetryPolicy,
    after_failure,
    attempt_of,
    copy_headers,
    dead_letter_queue,
    describe_error,
    retry_queue,
)
from postroom_shared.topology import DLX, RETRY, declare_retry_path

__all__ = ["Consume", "direct", "retrying", "subscribe", "undecoded"]

log = get_logger(__name__)

Consume = Callable[[AbstractIncomingMessage], Awaitable[None]]


def retrying[E: BaseModel](
    broker: RabbitBroker,
    queue: str,
    model: type[E],
    handle: Callable[[E, bool], Awaitable[object]],
    policy: RetryPolicy,
    *,
    hold_s: float = 1.0,
) -> Consume:
    """The subscriber function for consumer queue `queue`: `handle(event, final_attempt)`.

    Ack with `AckPolicy.NACK_ON_ERROR` semantics: it returns (ack) once the message is handled,
    or a retry or dead-letter copy of it is confirmed, and raises (nack, requeue) only when
    that copy could not be published, after waiting `hold_s` so a broker that refuses
    publishes is not hammered.
    """
    declared = False

    async def forward(
        message: AbstractIncomingMessage, decision: Retry | DeadLetter, error: str
    ) -> None:
        nonlocal declared
        if not declared:  # the delay queues of this process's policy, before the first use
            await declare_retry_path(broker, queue, policy)
            declared = True
        common = {ERROR_HEADER: error, QUEUE_HEADER: queue}
        if isinstance(decision, Retry):
            exchange, routing_key = RETRY, retry_queue(queue, decision.delay_s)
            headers = copy_headers(message.headers, {ATTEMPT_HEADER: decision.attempt, **common})
        else:
            exchange, routing_key = DLX, queue
            failed_at = datetime.now(UTC).isoformat(timespec="seconds")
            headers = copy_headers(
                message.headers,
                {**common, ERROR_HEADER: decision.reason, FAILED_AT_HEADER: failed_at},
            )
        await confirmed_publish(
            broker,
            message.body,
            exchange=exchange,
            routing_key=routing_key,
            headers=headers,
            content_type=message.content_type,
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            message_type=message.type,
        )

    async def settle(
        message: AbstractIncomingMessage, decision: Retry | DeadLetter, error: str
    ) -> None:
        try:
            await forward(message, decision, error)
        except Exception as exc:
            log.error("failed message could not be forwarded; requeued", error=repr(exc))
            await asyncio.sleep(hold_s)
            raise TransientError(f"retry copy not published: {exc!r}") from exc
        if isinstance(decision, Retry):
            record_retried(queue)
            log.warning(
                "message failed, will retry",
                error=error,
                next_attempt=decision.attempt,
                retry_in_s=decision.delay_s,
            )
        else:
            record_dead_lettered(queue)
            log.error(
                "message dead-lettered",
                reason=decision.reason,
                dead_letter_queue=dead_letter_queue(queue),
            )

    async def consume(raw: AbstractIncomingMessage) -> None:
        attempt = attempt_of(raw.headers)
        with bind(queue=queue, attempt=attempt, message_id=raw.message_id):
            try:
                event = model.model_validate_json(raw.body)
            except ValidationError as exc:
                reason = f"not a valid {model.__name__}: {describe_error(exc)}"
                await settle(raw, DeadLetter(reason), reason)
                return
            try:
                await handle(event, attempt >= policy.attempts)
                return
            except Exception as exc:
                decision = after_failure(policy, attempt, exc)
                error = describe_error(exc)
            await settle(raw, decision, error)

    return consume


def subscribe[E: BaseModel](
    broker: RabbitBroker,
    queue: RabbitQueue,
    exchange: RabbitExchange | None,
    model: type[E],
    handle: Callable[[E, bool], Awaitable[object]],
    policy: RetryPolicy,
    *,
    title: str | None = None,
    description: str | None = None,
) -> None:
    """Consume `queue` (bound to `exchange`) with `retrying(... handle ...)`.

    Up to the broker's prefetch messages are handled at once (aiormq starts a task per
    delivery), so one mail's store writes and confirms overlap with the next one's. Each
    delivery goes straight from aio-pika to `retrying` (`_DirectSubscriber`)."""
    body = retrying(broker, queue.name, model, handle, policy)
    subscriber = broker.subscriber(
        queue,
        exchange,
        ack_policy=AckPolicy.NACK_ON_ERROR,  # what `_DirectSubscriber.consume` does itself
        decoder=undecoded,
        title=title or queue.name,
        description=description,
    )
    subscriber(body)  # the handler FastStream documents (AsyncAPI); deliveries skip it
    direct(subscriber, body)


def direct(subscriber: RabbitSubscriber, body: Consume) -> None:
    """Hand `subscriber`'s deliveries to `body` itself, acked as `AckPolicy.NACK_ON_ERROR`
    would; call it before the broker starts."""
    subscriber.__class__ = _DirectSubscriber  # same slots: a subclass that adds a method only
    subscriber.__dict__["direct_body"] = body


class _DirectSubscriber(RabbitSubscriber):
    """A `RabbitSubscriber` whose per-delivery path is just `direct_body` and the ack.

    `RabbitSubscriber.start` gives aio-pika `self.consume` as the queue's callback (and
    aio-pika gives it again to the queue it restores after a reconnect), so replacing that one
    method keeps everything else: `running` (no new work once stopping) and `lock`, which
    `stop` waits on, up to the broker's graceful timeout, for the messages in flight."""

    __slots__ = ()
    direct_body: Consume

    async def consume(self, msg: IncomingMessage) -> None:
        if not self.running:
            return  # stopping: left unacked, the broker redelivers it
        with self.lock:
            try:
                await self.direct_body(msg)
            except Exception:
                await _settle(msg, ack=False)
                return
            await _settle(msg, ack=True)


async def _settle(message: AbstractIncomingMessage, *, ack: bool) -> None:
    """Ack or nack (requeue); an error here means the channel is gone, and with it the
    delivery: the broker redelivers the message, which the consumers' idempotency drops if its
    effect was stored."""
    try:
        if ack:
            await message.ack()
        else:
            await message.nack(requeue=True)
    except Exception as exc:
        log.warning("could not settle message", ack=ack, error=repr(exc))


async def undecoded(message: StreamMessage[Any]) -> StreamMessage[Any]:
    """The subscriber's decoder: the message as it came, body undecoded. FastStream would
    JSON-decode it before `consume` runs, and a body that is no JSON would then fail outside
    it, be requeued and fail again, for ever; `consume` validates it instead."""
    return message
