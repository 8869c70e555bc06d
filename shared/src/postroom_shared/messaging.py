"""Publishing: persistent, confirmed by the broker within a deadline, never silently dropped.

`publish_event` returns only after RabbitMQ confirmed the message, so callers may then delete
the mail at its source, advance checkpoints or clear their outbox. Three ways a publish can
look fine and not be are turned into a `TransientError` (retry later; nothing was deleted):

- no confirm within `POSTROOM_PUBLISH_TIMEOUT_S` (a stalled or blocked broker; e.g. a disk or
  memory alarm blocks publishers without closing the connection);
- the broker returned the message (`Basic.Return`): an event type Postroom consumes is
  published `mandatory`, because a confirm without a bound queue means it was dropped;
- the broker nacked it (a queue over its limit).

Events nobody inside Postroom consumes (`reply.sent.v1`, `account.state.v1`, ...) are for
outside subscribers and may go unrouted, so they are not mandatory. Commands always are: each
has its owner's queue, and one the broker cannot route is an error (`publish_command`).

Every confirmed event is counted for Prometheus (`metrics.record_published`) here, so no
service needs metric calls of its own.

A publish goes to aio-pika's exchange object (FastStream's own, from `broker.declare_exchange`,
which caches it and is the one its producer uses) with the message built here, not through
`RabbitBroker.publish`: that builds a publish command, validates the exchange, wraps the call
in its publisher middlewares and encodes the body through a codec for each message, for bytes
that are already encoded. Most of a publish's CPU stays in aiormq (framing, confirms).
"""

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

import aiormq.abc
import aiormq.exceptions
from aio_pika import DeliveryMode, Message
from faststream.rabbit import RabbitBroker, RabbitExchange

from postroom_shared.broker_failover import ClusterBroker
from postroom_shared.contracts import CommandEnvelope, EventEnvelope
from postroom_shared.errors import TransientError
from postroom_shared.metrics import record_published
from postroom_shared.store.ports import Outbox, OutboxEvent
from postroom_shared.topology import COMMANDS, EVENTS, consumed_event_types

__all__ = [
    "DEFAULT_PUBLISH_TIMEOUT_S",
    "OutboxRelay",
    "confirmed_publish",
    "event_type",
    "publish_command",
    "publish_event",
    "publish_outboxed",
    "publish_raw",
    "publish_timeout",
    "publish_together",
    "relay_outbox",
    "set_publish_timeout",
    "to_outbox",
]

DEFAULT_PUBLISH_TIMEOUT_S = 30.0
_TIMEOUTS: "WeakKeyDictionary[RabbitBroker, float]" = WeakKeyDictionary()


def set_publish_timeout(broker: RabbitBroker, seconds: float) -> None:
    """How long publishes through `broker` wait for a confirm (`runtime.make_broker` sets it
    from POSTROOM_PUBLISH_TIMEOUT_S)."""
    _TIMEOUTS[broker] = seconds


def publish_timeout(broker: RabbitBroker) -> float:
    return _TIMEOUTS.get(broker, DEFAULT_PUBLISH_TIMEOUT_S)


def event_type(event: EventEnvelope | CommandEnvelope) -> str:
    value = getattr(event, "type", None)
    if not isinstance(value, str):
        raise TypeError(f"{type(event).__name__} has no type")
    return value


def to_outbox(event: EventEnvelope) -> OutboxEvent:
    return OutboxEvent(
        event_id=str(event.event_id), routing_key=event_type(event), body=event.model_dump_json()
    )


async def confirmed_publish(
    broker: RabbitBroker,
    body: bytes,
    *,
    exchange: RabbitExchange,
    routing_key: str,
    mandatory: bool = True,
    headers: Mapping[str, Any] | None = None,
    content_type: str | None = "application/json",
    message_id: str | None = None,
    correlation_id: str | None = None,
    message_type: str | None = None,
) -> None:
    """Publish persistently and wait for the broker's confirm; TransientError when it does not
    come in time, or the message was returned or nacked."""
    timeout = publish_timeout(broker)
    message = Message(  # the properties `RabbitBroker.publish` would set, persistent
        body,
        headers=dict(headers) if headers else None,
        content_type=content_type,
        delivery_mode=DeliveryMode.PERSISTENT,
        message_id=message_id,
        correlation_id=correlation_id or str(uuid.uuid4()),
        type=message_type,
        timestamp=datetime.now(UTC),
        app_id=broker.config.app_id,
    )
    try:
        async with asyncio.timeout(timeout):  # one deadline for all of it: no second timer
            target = await broker.declare_exchange(exchange)  # cached after the first call
            result = await target.publish(message, routing_key, mandatory=mandatory)
    except TimeoutError as exc:
        raise TransientError(
            f"the broker did not confirm {routing_key} within {timeout:g} s"
        ) from exc
    except aiormq.exceptions.PublishError as exc:  # Basic.Return, on_return_raises channels
        raise TransientError(_returned(exchange, routing_key, exc.frame)) from exc
    except aiormq.exceptions.DeliveryError as exc:
        if isinstance(broker, ClusterBroker):  # a nacking channel may never recover by itself
            await broker.renew_channel()
        raise TransientError(f"the broker refused {routing_key} (nack)") from exc
    if isinstance(result, aiormq.abc.DeliveredMessage):  # Basic.Return on other channels
        raise TransientError(_returned(exchange, routing_key, result.delivery))


def _returned(exchange: RabbitExchange, routing_key: str, frame: Any) -> str:
    why = getattr(frame, "reply_text", "") or "returned"
    return (
        f"the broker returned {routing_key} ({why}): no queue is bound to exchange"
        f" {exchange.name or '(default)'!r} for it; the message was not delivered"
    )


async def publish_raw(
    broker: RabbitBroker,
    routing_key: str,
    body: str,
    event_id: str,
    correlation_id: str | None = None,
    *,
    event: EventEnvelope | None = None,
) -> None:
    """Publish an event's JSON `body`; `event`, when the caller has it, is what the metrics
    read their labels from instead of parsing the body again."""
    await confirmed_publish(
        broker,
        body.encode(),
        exchange=EVENTS,
        routing_key=routing_key,
        mandatory=routing_key in consumed_event_types(),
        message_id=event_id,
        correlation_id=correlation_id,
        message_type=routing_key,
    )
    record_published(routing_key, event if event is not None else body)


async def publish_event(broker: RabbitBroker, event: EventEnvelope) -> None:
    await publish_raw(
        broker,
        event_type(event),
        event.model_dump_json(),
        str(event.event_id),
        event.correlation_id,
        event=event,
    )


async def publish_command(broker: RabbitBroker, command: CommandEnvelope) -> None:
    """Send `command` to its owner's queue; returns once the broker confirmed it there."""
    routing_key = event_type(command)
    await confirmed_publish(
        broker,
        command.model_dump_json().encode(),
        exchange=COMMANDS,
        routing_key=routing_key,
        mandatory=True,
        message_id=str(command.command_id),
        correlation_id=command.correlation_id,
        message_type=routing_key,
    )


async def relay_outbox(
    broker: RabbitBroker, store: Outbox, *, only: set[str] | None = None, limit: int = 1000
) -> int:
    """Publish events left in the outbox (after a crash or a broker outage); returns how many.

    A handler passes `only` (its own event ids): publishing everybody's pending events from
    every concurrent handler would publish each event many times over.
    """
    events = await store.pending_events(limit=limit)
    if only is not None:
        events = [event for event in events if event.event_id in only]
    await publish_outboxed(broker, store, events)
    return len(events)


class OutboxRelay:
    """The periodic relay: publishes events still in the outbox that it already found there on
    its previous pass, i.e. left over for a whole interval (a crash, a broker outage).

    An event found for the first time is most likely in flight: written a moment ago by a
    handler (in this process or another replica) that publishes and clears it itself. Relaying
    it at once sent it twice; harmless (consumers dedupe by event id) but not free: with three
    converters under load, 123 of 272 events went out twice in one run of
    tests/integration/test_replicas.py. A real leftover now waits one interval longer.
    """

    def __init__(self, broker: RabbitBroker, store: Outbox, *, limit: int = 1000) -> None:
        self._broker, self._store, self._limit = broker, store, limit
        self._seen: set[str] = set()

    async def relay(self) -> int:
        """One pass; returns how many events it published."""
        pending = await self._store.pending_events(limit=self._limit)
        leftovers = [event for event in pending if event.event_id in self._seen]
        self._seen = {event.event_id for event in pending}
        await publish_outboxed(self._broker, self._store, leftovers)
        return len(leftovers)


async def publish_outboxed(
    broker: RabbitBroker, store: Outbox, events: Sequence[OutboxEvent]
) -> None:
    """Publish events that are in the outbox (just written, or left over), side by side, then
    clear those the broker confirmed from it in one call; a crash in between leaves them to
    the relay. Raises the first failure after clearing the others."""
    failures = await publish_together(broker, events)
    await store.mark_all_published(
        [event.event_id for event, failed in zip(events, failures, strict=True) if failed is None]
    )
    for failed in failures:
        if failed is not None:
            raise failed


async def publish_together(
    broker: RabbitBroker, events: Sequence[OutboxEvent]
) -> list[Exception | None]:
    """Publish stored events at once, their confirms awaited together (one round instead of
    one per event); for each, None when confirmed, else why not."""
    outcomes = await asyncio.gather(
        *(publish_raw(broker, e.routing_key, e.body, e.event_id) for e in events),
        return_exceptions=True,
    )
    failures: list[Exception | None] = []
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
            raise outcome  # cancelled: no answer to give
        failures.append(outcome)
    return failures
