"""Publishing events: persistent, confirmed by the broker, routed by their type.

`publish_event` returns only after RabbitMQ confirmed the message (publisher confirms are on
for FastStream's channels), so callers may then advance checkpoints or clear their outbox.
Every confirmed publish is counted for Prometheus (`metrics.record_published`) here, so no
service needs metric calls of its own.
"""

from faststream.rabbit import RabbitBroker

from postroom_shared.contracts import EventEnvelope
from postroom_shared.metrics import record_published
from postroom_shared.store.ports import OutboxEvent, Store
from postroom_shared.topology import EVENTS

__all__ = ["event_type", "publish_event", "publish_raw", "relay_outbox", "to_outbox"]


def event_type(event: EventEnvelope) -> str:
    value = getattr(event, "type", None)
    if not isinstance(value, str):
        raise TypeError(f"{type(event).__name__} has no event type")
    return value


def to_outbox(event: EventEnvelope) -> OutboxEvent:
    return OutboxEvent(
        event_id=str(event.event_id), routing_key=event_type(event), body=event.model_dump_json()
    )


async def publish_raw(
    broker: RabbitBroker,
    routing_key: str,
    body: str,
    event_id: str,
    correlation_id: str | None = None,
) -> None:
    await broker.publish(
        body.encode(),
        exchange=EVENTS,
        routing_key=routing_key,
        persist=True,
        mandatory=False,
        content_type="application/json",
        message_id=event_id,
        correlation_id=correlation_id,
        message_type=routing_key,
    )
    record_published(routing_key, body)


async def publish_event(broker: RabbitBroker, event: EventEnvelope) -> None:
    await publish_raw(
        broker,
        event_type(event),
        event.model_dump_json(),
        str(event.event_id),
        event.correlation_id,
    )


async def relay_outbox(
    broker: RabbitBroker, store: Store, *, only: set[str] | None = None, limit: int = 1000
) -> int:
    """Publish events left in the outbox (after a crash or a broker outage); returns how many.

    A handler passes `only` (its own event ids): publishing everybody's pending events from
    every concurrent handler would publish each event many times over.
    """
    events = await store.pending_events(limit=limit)
    if only is not None:
        events = [event for event in events if event.event_id in only]
    for event in events:
        await publish_raw(broker, event.routing_key, event.body, event.event_id)
        await store.mark_published(event.event_id)
    return len(events)
