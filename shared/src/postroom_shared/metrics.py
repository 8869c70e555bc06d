"""Prometheus metrics: what every process counts, and the system gauges the API reports.

Counters are fed from one place, `messaging.publish_raw` (every event any service publishes
passes there, directly or through the outbox relay), so service code has no metric calls:
mails received per account, items created, replies sent and suppressed (by a small set of
reason codes), quarantined mail. Counters count publishes, so an event republished after a
crash is counted again (at-least-once, like the events themselves). Consumers count the
messages they retry or dead-letter (`consumer.retrying`).

System gauges (quarantine size, messages ready per consumer, delay and dead-letter queue,
fetch state per account) describe shared state, not a process; only the API sets them
(`SystemGauges`), at scrape time but at most every POSTROOM_METRICS_CACHE_S, over one kept
broker connection, so summing over processes never double-counts them and scrapes cost
little.

Each service serves its registry on its own port (`start_metrics_server`, from
`runtime.run_service`); the API serves it at `/metrics` on its HTTP port.
"""

import asyncio
import json
import re
import threading
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    Counter,
    Gauge,
    generate_latest,
    start_http_server,
)
from pydantic import BaseModel

from postroom_shared.broker_admin import BrokerAdmin
from postroom_shared.logs import get_logger
from postroom_shared.retry import RetryPolicy
from postroom_shared.store.ports import Store
from postroom_shared.topology import topology_queue_names

__all__ = [
    "DEFAULT_PORTS",
    "SUPPRESSION_CODES",
    "MetricsServer",
    "SystemGauges",
    "queue_names",
    "record_dead_lettered",
    "record_published",
    "record_retried",
    "render_latest",
    "start_metrics_server",
    "suppression_code",
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
    "Messages waiting (ready, not yet delivered) in a consumer queue, one of its delay queues"
    " (<queue>.retry.<delay>) or its dead-letter queue (<queue>.dlq).",
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

MESSAGES_RETRIED = Counter(
    "postroom_messages_retried",
    "Failed messages sent to a delay queue for another try, by consumer queue.",
    ["queue"],
)
MESSAGES_DEAD_LETTERED = Counter(
    "postroom_messages_dead_lettered",
    "Messages parked in <queue>.dlq after their last try (or as no valid event), by queue.",
    ["queue"],
)

SUPPRESSION_CODES = (
    "auto_submitted", "bulk", "list", "bounce", "null_sender", "daemon", "own_loop", "author",
    "rate_limited", "duplicate_7d", "first_mail_only", "disabled", "loop_breaker",
    "global_budget", "domain_budget", "bounced_address", "reply_recipient", "other",
)  # fmt: skip

# First match wins; patterns follow the replier's wording (loop_rules, notify_rules,
# rate_limits), which the tests pin.
_SUPPRESSION_RULES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), code)
    for pattern, code in (
        (r"^loop_breaker\b", "loop_breaker"),
        (r"^global_budget\b", "global_budget"),
        (r"^domain_budget\b", "domain_budget"),
        (r"^bounced_address\b", "bounced_address"),
        (r"recipient made this change", "author"),
        (r"got the team reply itself", "reply_recipient"),
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


def record_retried(queue: str) -> None:
    _count(MESSAGES_RETRIED, queue)


def record_dead_lettered(queue: str) -> None:
    MESSAGES_DEAD_LETTERED.labels(queue).inc()


def record_published(routing_key: str, body: str | BaseModel) -> None:
    """Count one published event (called after the broker confirmed it), given as its JSON or
    as the model itself: then only the labelled fields are dumped, never a mail's raw bytes.
    Never raises: the event is out, and a metric must not turn that into a failure."""
    try:
        _record(routing_key, body)
    except Exception as exc:
        log.warning("metrics: event not counted", routing_key=routing_key, error=repr(exc))


def _record(routing_key: str, body: str | BaseModel) -> None:
    _count(EVENTS_PUBLISHED, routing_key)
    if routing_key not in _LABELLED:
        return
    if isinstance(body, str):
        data = json.loads(body)
    else:
        data = body.model_dump(mode="json", include=_LABEL_FIELDS)
    match routing_key:
        case "mail.received.v1":
            _count(MAILS_RECEIVED, data["account_id"], data.get("source", ""))
        case "item.created.v1":
            item = data["item"]
            _count(ITEMS_CREATED, item["account_id"], item["item_type"])
        case "item.updated.v1":
            _count(ITEMS_UPDATED, data["item"]["account_id"])
        case "reply.sent.v1":
            _count(REPLIES_SENT, data["reason"])
        case "reply.suppressed.v1":
            _count(REPLIES_SUPPRESSED, data["reason"], suppression_code(data["why"]))
        case "reply.failed.v1":
            _count(REPLIES_FAILED, data["reason"])
        case "mail.quarantined.v1":
            _count(MAILS_QUARANTINED, data["account_id"])
        case "mail.ignored.v1":
            _count(MAILS_IGNORED, data["account_id"])


# The labelled children, kept: `Counter.labels` validates the values and takes the metric's
# lock on every call, and it is called for every event published. The label values are the
# metrics' own (bounded) ones, so this holds no more than the registry does.
_CHILDREN: dict[tuple[Counter, tuple[str, ...]], Counter] = {}


def _count(counter: Counter, *labels: str) -> None:
    key = (counter, labels)
    child = _CHILDREN.get(key)
    if child is None:
        child = _CHILDREN[key] = counter.labels(*labels)
    child.inc()


_LABEL_FIELDS = {"account_id", "source", "item", "reason", "why"}
_LABELLED = frozenset(
    {
        "mail.received.v1", "item.created.v1", "item.updated.v1", "reply.sent.v1",
        "reply.suppressed.v1", "reply.failed.v1", "mail.quarantined.v1", "mail.ignored.v1",
    }
)  # fmt: skip


def queue_names(policy: RetryPolicy | None = None) -> list[str]:
    """Every consumer queue, its delay queues (under `policy`) and its dead-letter queue."""
    return topology_queue_names(policy or RetryPolicy())


class SystemGauges:
    """The API's system gauges, refreshed at most every `cache_s` seconds: a scrape (which
    needs no key) then costs neither a store query nor a broker round trip, and concurrent
    scrapes share one refresh. Queue depths are read over `admin`'s one kept connection."""

    def __init__(
        self,
        store: Store,
        admin: BrokerAdmin,
        *,
        policy: RetryPolicy | None = None,
        cache_s: float = 5.0,
        timeout_s: float = 3.0,
    ) -> None:
        self.store = store
        self.admin = admin
        self.policy = policy or RetryPolicy()
        self.cache_s = cache_s
        self.timeout_s = timeout_s
        self._refreshed_at: float | None = None
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        async with self._lock:
            now = asyncio.get_running_loop().time()
            if self._refreshed_at is not None and now - self._refreshed_at < self.cache_s:
                return
            await _update_store_gauges(self.store, self.timeout_s)
            await _update_queue_gauges(self.admin, queue_names(self.policy), self.timeout_s)
            self._refreshed_at = asyncio.get_running_loop().time()


async def _update_store_gauges(store: Store, timeout_s: float) -> None:
    """Quarantine size and account state; when the store is down they keep their last
    values and `postroom_system_gauges_errors{source="store"}` is 1."""
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


async def _update_queue_gauges(admin: BrokerAdmin, names: list[str], timeout_s: float) -> None:
    try:
        async with asyncio.timeout(timeout_s * 2):
            depths = await admin.depths(names)
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
