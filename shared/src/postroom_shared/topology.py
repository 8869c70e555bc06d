"""The broker topology, in one place, so that every service declares the same thing.

One durable topic exchange carries every event, routed by its type (`item.created.v1`). Each
consumer owns a durable quorum queue `<service>.<event>`. Commands go to the durable direct
exchange `postroom.commands`, routed by their type (`item.record_sent_mail.v1`) to the one
queue of their owner, `<owner>.<command>`. Around every consumer queue:

- delay queues `<queue>.retry.<delay>` (one per backoff step, a per-queue TTL, so the head is
  always the first to expire) that a failing consumer publishes a copy to through the direct
  exchange `postroom.retry`; when the TTL runs out the broker dead-letters the copy back to
  `<queue>` through the default exchange, so only that queue sees it again (`retry.py`);
- the dead-letter queue `<queue>.dlq`, bound to the direct exchange `postroom.dlx`: where a
  consumer parks a message after its last try, and where the broker itself puts one that was
  redelivered `DELIVERY_LIMIT` times (a consumer killed mid-message again and again).

The delivery limit is only the backstop for such crash loops: every retry is a new copy whose
broker count starts at zero, so the two counts never add up, and our own attempt header
decides when to give up on every broker version.
"""

from faststream.rabbit import ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue

from postroom_shared.retry import RetryPolicy, dead_letter_queue, delay_ms, retry_queue

__all__ = [
    "COMMANDS",
    "COMMAND_CONSUMERS",
    "CONSUMERS",
    "DELIVERY_LIMIT",
    "DLX",
    "EVENTS",
    "RETRY",
    "consumed_event_types",
    "consumer_queue",
    "consumer_queue_names",
    "declare_retry_path",
    "declare_topology",
    "topology_queue_names",
]

EVENTS = RabbitExchange("postroom.events", type=ExchangeType.TOPIC, durable=True)
DLX = RabbitExchange("postroom.dlx", type=ExchangeType.DIRECT, durable=True)
RETRY = RabbitExchange("postroom.retry", type=ExchangeType.DIRECT, durable=True)
COMMANDS = RabbitExchange("postroom.commands", type=ExchangeType.DIRECT, durable=True)
# Unchanged since the first release: a queue's arguments cannot change once it exists
# (RabbitMQ refuses the declaration with PRECONDITION_FAILED), and it only counts crash loops.
DELIVERY_LIMIT = 5

# (service, event type) of every consumer queue; the metrics and the AsyncAPI document read it.
CONSUMERS: tuple[tuple[str, str], ...] = (
    ("converter", "mail.received.v1"),
    ("replier", "item.created.v1"),
    ("replier", "item.updated.v1"),
    ("replier", "mail.quarantined.v1"),
)
# (owner, command type) of every command queue: one queue per command, consumed by its owner.
# The converter owns items and their threads, so it consumes every item command.
COMMAND_CONSUMERS: tuple[tuple[str, str], ...] = (
    ("converter", "item.record_sent_mail.v1"),
    ("converter", "item.change_status.v1"),
    ("converter", "item.assign.v1"),
    ("converter", "item.set_fields.v1"),
    ("converter", "item.set_notify.v1"),
    ("converter", "item.add_note.v1"),
    ("converter", "item.add_reply.v1"),
)


def consumed_event_types() -> frozenset[str]:
    """Event types Postroom itself consumes: publishing one that no queue takes loses it."""
    return frozenset(event_type for _, event_type in CONSUMERS)


def consumer_queue(service: str, event_type: str) -> RabbitQueue:
    """The durable quorum queue through which `service` consumes `event_type` (an event or,
    for its owner, a command)."""
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
    return RabbitQueue(
        dead_letter_queue(name), queue_type=QueueType.QUORUM, durable=True, routing_key=name
    )


def _delay_queue(name: str, seconds: float) -> RabbitQueue:
    return RabbitQueue(
        retry_queue(name, seconds),
        queue_type=QueueType.QUORUM,
        durable=True,
        arguments={
            "x-message-ttl": delay_ms(seconds),  # the same milliseconds as the name
            "x-dead-letter-exchange": "",  # the default exchange: straight back to `name`
            "x-dead-letter-routing-key": name,
            # a copy is moved back only once `name` has it (quorum queues, RabbitMQ >= 3.10)
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        },
    )


def consumer_queue_names() -> list[str]:
    """Every consumer queue: the event consumers', then the command owners'."""
    return [consumer_queue(*pair).name for pair in (*CONSUMERS, *COMMAND_CONSUMERS)]


def topology_queue_names(policy: RetryPolicy) -> list[str]:
    """Every consumer queue, then its delay queues and its dead-letter queue."""
    names = []
    for queue in consumer_queue_names():
        names.append(queue)
        names.extend(retry_queue(queue, seconds) for seconds in policy.delays())
        names.append(dead_letter_queue(queue))
    return names


async def declare_retry_path(
    broker: RabbitBroker, queue: str, policy: RetryPolicy | None = None
) -> None:
    """The dead-letter queue of consumer queue `queue` and, given a policy, its delay queues
    (only consumers publish to those; they declare them with their own retry settings)."""
    dlx = await broker.declare_exchange(DLX)
    dlq = await broker.declare_queue(_dead_letter_queue(queue))
    await dlq.bind(dlx, routing_key=queue)
    if policy is None:
        return
    retry = await broker.declare_exchange(RETRY)
    for seconds in policy.delays():
        delay = await broker.declare_queue(_delay_queue(queue, seconds))
        await delay.bind(retry, routing_key=delay.name)


async def declare_topology(broker: RabbitBroker, policy: RetryPolicy | None = None) -> None:
    """Declare exchanges, every consumer queue (events and commands) and its DLQ, and with a
    `policy` (a consuming service's retry settings) the delay queues too; idempotent, run by
    each service.

    Declaring the consumers' queues from producers too means an event published before its
    consumer ever started is queued, not dropped as unroutable.
    """
    for exchange, consumers in ((EVENTS, CONSUMERS), (COMMANDS, COMMAND_CONSUMERS)):
        declared_exchange = await broker.declare_exchange(exchange)
        for service, message_type in consumers:
            queue = consumer_queue(service, message_type)
            declared = await broker.declare_queue(queue)
            await declared.bind(declared_exchange, routing_key=message_type)
            await declare_retry_path(broker, queue.name, policy)
