"""Prometheus metrics: what every process counts, and the system gauges the API reports.

Counters are fed from one place, `messaging.publish_raw` (every event any service publishes
passes there, directly or through the outbox relay), so service code has no metric calls:
mails received per account, items created, replies sent and suppressed (by a small set of
reason codes), quarantined mail. Counters count publishes, so an event republished after a
crash is counted again (at-least-once, like the events themselves).

System gauges (quarantine size, messages ready per consumer queue, fetch state per account)
describe shared state, not a process; only the API sets them, at scrape time, so summing over
processes never double-counts them.

Each service serves its registry on its own port (`start_metrics_server`, from
`runtime.run_service`); the API serves it at `/metrics` on its HTTP port.
"""

import asyncio
import json
import re
import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

import aio_pika
import aio_pika.exceptions
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    generate_latest,
    start_http_server,
)

from postroom_shared.logs import get_logger
from postroom_shared.store.ports import Store
from postroom_shared.topology import CONSUMERS, consumer_queue

__all__ = [
    "DEFAULT_PORTS",
    "SUPPRESSION_CODES",
    "MetricsServer",
    "record_published",
    "render_latest",
    "start_metrics_server",
    "suppression_code",
    "update_system_gauges",
]

log = get_logger(__name__)

DEFAULT_PORTS = {"fetcher": 9101, "converter": 9102, "replier": 9103}

EVENTS_PUBLISHED = Counter(
    "postroom_events_published", "Events published to postroom.events, by type.", ["type"]
)
MAILS_RECEIVED = Counter(
    "postroom_mails_received",
    "Mails fetched, piped or pushed (mail.received.v1), by account and source.",
    ["account", "source"],
)
ITEMS_CREATED = Counter(
    "postroom_items_created", "Items created from mail, by account and item type.",
    ["account", "item_type"],
)  # fmt: skip
ITEMS_UPDATED = Counter("postroom_items_updated", "Items updated by mail, by account.", ["account"])
REPLIES_SENT = Counter(
    "postroom_replies_sent", "Automatic mails sent, by reason (auto_reply, notification).",
    ["reason"],
)  # fmt: skip
REPLIES_SUPPRESSED = Counter(
    "postroom_replies_suppressed",
    "Automatic mails not sent, by reason and by a code for why (see SUPPRESSION_CODES).",
    ["reason", "why"],
)
REPLIES_FAILED = Counter(
    "postroom_replies_failed", "Automatic mails that failed for good, by reason.", ["reason"]
)
MAILS_QUARANTINED = Counter(
    "postroom_mails_quarantined", "Mails put in the quarantine, by account.", ["account"]
)
MAILS_IGNORED = Counter("postroom_mails_ignored", "Mails deliberately ignored.", ["account"])

QUARANTINE_SIZE = Gauge("postroom_quarantine_size", "Mails waiting in the quarantine.")
QUEUE_READY = Gauge(
    "postroom_queue_messages_ready",
    "Messages waiting (ready, not yet delivered) in a consumer queue or its dead-letter queue.",
    ["queue"],
)
QUEUE_CONSUMERS = Gauge("postroom_queue_consumers", "Consumers attached to a queue.", ["queue"])
ACCOUNT_FAILURES = Gauge(
    "postroom_account_fetch_failures",
    "Consecutive failed fetches of an account (0 when the last one worked).",
    ["account"],
)
ACCOUNT_STATUS = Gauge(
    "postroom_account_status",
    "1 for the account's current fetch status (ok, error, needs_reauth), else 0.",
    ["account", "status"],
)
SCRAPE_ERRORS = Gauge(
    "postroom_system_gauges_errors",
    "1 when the last update of a system gauge group failed (store or broker unreachable).",
    ["source"],
)

SUPPRESSION_CODES = (
    "auto_submitted", "bulk", "list", "bounce", "null_sender", "daemon", "own_loop", "author",
    "rate_limited", "duplicate_7d", "first_mail_only", "disabled", "loop_breaker",
    "global_budget", "domain_budget", "other",
)  # fmt: skip

# First match wins; patterns follow the replier's wording (loop_rules, notify_rules,
# rate_limits), which the tests pin.
_SUPPRESSION_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), code)
    for pattern, code in (
        (r"^loop_breaker\b", "loop_breaker"),
        (r"^global_budget\b", "global_budget"),
        (r"^domain_budget\b", "domain_budget"),
        (r"^inbound mail is bounce", "bounce"),
        (r"^inbound mail is own_loop", "own_loop"),
        (r"^inbound mail is list\b.*\b(bulk|junk)\b", "bulk"),
        (r"^inbound mail is list", "list"),
        (r"^inbound mail is (auto_reply|out_of_office)", "auto_submitted"),
        (r"null return path|no usable sender", "null_sender"),
        (r"our own address", "own_loop"),
        (r"daemon|no-reply", "daemon"),
        (r"recipient wrote this mail", "author"),
        (r"identical automatic mail|RFC 3834", "duplicate_7d"),
        (r"rate limit", "rate_limited"),
        (r"first mail only|not the first mail", "first_mail_only"),
        (r"\bis off\b|no separate notification|disabled", "disabled"),
        (r"auto-submitted|auto-replied|autoreply", "auto_submitted"),
    )
)


def suppression_code(why: str) -> str:
    """The bounded metric label for a free-text suppression reason (`reply.suppressed.v1`)."""
    for pattern, code in _SUPPRESSION_RULES:
        if pattern.search(why):
            return code
    return "other"


def record_published(routing_key: str, body: str) -> None:
    """Count one published event (called after the broker confirmed it). Never raises: the
    event is out, and a metric must not turn that into a failure."""
    try:
        _record(routing_key, body)
    except Exception as exc:
        log.warning("metrics: event not counted", routing_key=routing_key, error=repr(exc))


def _record(routing_key: str, body: str) -> None:
    EVENTS_PUBLISHED.labels(routing_key).inc()
    if routing_key not in _LABELLED:
        return
    data = json.loads(body)
    match routing_key:
        case "mail.received.v1":
            MAILS_RECEIVED.labels(data["account_id"], data.get("source", "")).inc()
        case "item.created.v1":
            item = data["item"]
            ITEMS_CREATED.labels(item["account_id"], item["item_type"]).inc()
        case "item.updated.v1":
            ITEMS_UPDATED.labels(data["item"]["account_id"]).inc()
        case "reply.sent.v1":
            REPLIES_SENT.labels(data["reason"]).inc()
        case "reply.suppressed.v1":
            REPLIES_SUPPRESSED.labels(data["reason"], suppression_code(data["why"])).inc()
        case "reply.failed.v1":
            REPLIES_FAILED.labels(data["reason"]).inc()
        case "mail.quarantined.v1":
            MAILS_QUARANTINED.labels(data["account_id"]).inc()
        case "mail.ignored.v1":
            MAILS_IGNORED.labels(data["account_id"]).inc()


_LABELLED = frozenset(
    {
        "mail.received.v1", "item.created.v1", "item.updated.v1", "reply.sent.v1",
        "reply.suppressed.v1", "reply.failed.v1", "mail.quarantined.v1", "mail.ignored.v1",
    }
)  # fmt: skip


def queue_names() -> list[str]:
    """Every consumer queue and its dead-letter queue."""
    names = [consumer_queue(service, event).name for service, event in CONSUMERS]
    return [name for queue in names for name in (queue, f"{queue}.dlq")]


async def _queue_depths(amqp_url: str, timeout_s: float) -> dict[str, tuple[int, int]]:
    """(ready messages, consumers) per existing queue, read with passive declares (the
    management plugin may be off). A queue that does not exist yet is left out."""
    depths: dict[str, tuple[int, int]] = {}
    connection = await aio_pika.connect(amqp_url, timeout=timeout_s)
    try:
        channel = await connection.channel()
        for name in queue_names():
            try:
                queue = await channel.declare_queue(name, passive=True, timeout=timeout_s)
            except aio_pika.exceptions.ChannelNotFoundEntity:
                channel = await connection.channel()  # a failed passive declare closes it
                continue
            result = queue.declaration_result
            depths[name] = (result.message_count or 0, result.consumer_count or 0)
    finally:
        await connection.close()
    return depths


async def update_system_gauges(store: Store, amqp_url: str, *, timeout_s: float = 3.0) -> None:
    """Refresh quarantine size, queue depths and account state; a part whose source is down
    keeps its last values and sets `postroom_system_gauges_errors{source=...}`."""
    try:
        async with asyncio.timeout(timeout_s):
            QUARANTINE_SIZE.set(await store.count_quarantine())
            states = await store.list_account_states()
        ACCOUNT_FAILURES.clear()
        ACCOUNT_STATUS.clear()
        for state in states:
            ACCOUNT_FAILURES.labels(state.account_id).set(state.failures)
            for status in ("ok", "error", "needs_reauth"):
                ACCOUNT_STATUS.labels(state.account_id, status).set(state.status == status)
        SCRAPE_ERRORS.labels("store").set(0)
    except Exception as exc:
        log.warning("metrics: store gauges not updated", error=repr(exc))
        SCRAPE_ERRORS.labels("store").set(1)
    try:
        async with asyncio.timeout(timeout_s * 2):
            depths = await _queue_depths(amqp_url, timeout_s)
        QUEUE_READY.clear()
        QUEUE_CONSUMERS.clear()
        for name, (ready, consumers) in depths.items():
            QUEUE_READY.labels(name).set(ready)
            QUEUE_CONSUMERS.labels(name).set(consumers)
        SCRAPE_ERRORS.labels("broker").set(0)
    except Exception as exc:
        log.warning("metrics: queue gauges not updated", error=repr(exc))
        SCRAPE_ERRORS.labels("broker").set(1)


def render_latest() -> tuple[bytes, str]:
    """The registry in the Prometheus text format, and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


@dataclass
class MetricsServer:
    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_metrics_server(host: str, port: int) -> MetricsServer | None:
    """Serve /metrics on host:port in a thread; None (logged) when the port is taken, because a
    service must keep processing mail even when its metrics cannot be served."""
    try:
        server, thread = start_http_server(port, addr=host)
    except OSError as exc:
        log.error("metrics server not started", host=host, port=port, error=repr(exc))
        return None
    log.info("metrics served", url=f"http://{host}:{port}/metrics")
    return MetricsServer(server, thread)
