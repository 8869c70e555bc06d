"""The broker topology, in one place, so that every service declares the same thing.

One durable topic exchange carries every event, routed by its type (`item.created.v1`). Each
consumer owns a durable quorum queue `<service>.<event>` with a delivery limit; a message that
keeps failing, or is rejected, goes through the dead-letter exchange into `<queue>.dlq`, where it
waits for a human instead of being dropped (FastStream rejects on error by default, and a reject
without a DLX loses the message).
"""

from faststream.rabbit import ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue

__all__ = [
    "CONSUMERS",
    "DELIVERY_LIMIT",
    "DLX",
    "EVENTS",
    "consumer_queue",
    "declare_topology",
]

EVENTS = RabbitExchange("postroom.events", type=ExchangeType.TOPIC, durable=True)
DLX = RabbitExchange("postroom.dlx", type=ExchangeType.DIRECT, durable=True)
DELIVERY_LIMIT = 5

# (service, event type) of every consumer queue; the metrics and the AsyncAPI document read it.
CONSUMERS: tuple[tuple[str, str], ...] = (
    ("converter", "mail.received.v1"),
    ("replier", "item.created.v1"),
    ("replier", "item.updated.v1"),
    ("replier", "mail.quarantined.v1"),
)


def consumer_queue(service: str, event_type: str) -> RabbitQueue:
    """The durable quorum queue through which `service` consumes `event_type`."""
    name = f"{service}.{event_type}"
    return RabbitQueue(
        name,
        queue_type=QueueType.QUORUM,
        durable=True,
        routing_key=event_type,
        arguments={
            "x-dead-letter-exchange": DLX.name,
            "x-dead-letter-routing-key": name,
            "x-delivery-limit": DELIVERY_LIMIT,
        },
    )


def _dead_letter_queue(name: str) -> RabbitQueue:
    return RabbitQueue(f"{name}.dlq", queue_type=QueueType.QUORUM, durable=True, routing_key=name)


async def declare_topology(broker: RabbitBroker) -> None:
    """Declare exchanges, every consumer queue and its DLQ; idempotent, run by each service.

    Declaring the consumers' queues from producers too means an event published before its
    consumer ever started is queued, not dropped as unroutable.
    """
    events = await broker.declare_exchange(EVENTS)
    dlx = await broker.declare_exchange(DLX)
    for service, event_type in CONSUMERS:
        queue = consumer_queue(service, event_type)
        declared = await broker.declare_queue(queue)
        await declared.bind(events, routing_key=event_type)
        dlq = await broker.declare_queue(_dead_letter_queue(queue.name))
        await dlq.bind(dlx, routing_key=queue.name)
