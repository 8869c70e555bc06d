"""When and how a failed message is tried again: pure decisions, counted by our own header.

RabbitMQ's own redelivery count cannot be relied on: from 4.3 a requeued nack no longer counts
toward `x-delivery-limit`, so a message that keeps failing would loop for ever, and a requeue
is immediate, so a few seconds of store outage would burn every try. Instead, a consumer that
fails a message publishes a copy with `x-postroom-attempt` one higher to a delay queue
(`<queue>.retry.<delay>`, a per-queue TTL that dead-letters back to `<queue>`), then acks the
original. After the last attempt the message goes to quarantine (the converter) or to
`<queue>.dlq`. docs/architecture.md has the drawing.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from postroom_shared.broker_settings import BrokerSettings
from postroom_shared.errors import PermanentError, RejectedError

__all__ = [
    "ATTEMPT_HEADER",
    "ERROR_HEADER",
    "FAILED_AT_HEADER",
    "QUEUE_HEADER",
    "DeadLetter",
    "Retry",
    "RetryPolicy",
    "after_failure",
    "attempt_of",
    "copy_headers",
    "dead_letter_queue",
    "delay_label",
    "delay_ms",
    "describe_error",
    "retry_queue",
]

ATTEMPT_HEADER = "x-postroom-attempt"
ERROR_HEADER = "x-postroom-error"
QUEUE_HEADER = "x-postroom-queue"
FAILED_AT_HEADER = "x-postroom-failed-at"

# Headers the broker writes about one copy's life (redeliveries, dead-letterings); a new copy
# starts without them, so they never pile up over many retries.
_BROKER_HEADERS = ("x-delivery-count", "x-death")
_BROKER_PREFIXES = ("x-first-death-", "x-last-death-")
_MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries in all; `backoff_s[i]` is the wait before try i + 2 (the last step
    repeats)."""

    attempts: int = 6
    backoff_s: tuple[float, ...] = (1.0, 5.0, 30.0, 120.0, 600.0)

    def __post_init__(self) -> None:
        if self.attempts < 1 or not self.backoff_s:
            raise ValueError("a retry policy needs at least one attempt and one delay")

    @classmethod
    def from_settings(cls, settings: BrokerSettings) -> "RetryPolicy":
        return cls(attempts=settings.retry_attempts, backoff_s=settings.retry_backoff_s)

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before try number `attempt` (2 or more)."""
        return self.backoff_s[min(max(attempt - 2, 0), len(self.backoff_s) - 1)]

    def delays(self) -> tuple[float, ...]:
        """Every distinct delay this policy uses, shortest first (one delay queue each)."""
        used = {self.delay_before(attempt) for attempt in range(2, self.attempts + 1)}
        return tuple(sorted(used or {self.delay_before(2)}))


@dataclass(frozen=True)
class Retry:
    """Publish a copy as try `attempt`, through the delay queue of `delay_s`."""

    attempt: int
    delay_s: float


@dataclass(frozen=True)
class DeadLetter:
    """No try is left: park the message in `<queue>.dlq` with `reason`."""

    reason: str


def after_failure(policy: RetryPolicy, attempt: int, error: BaseException) -> Retry | DeadLetter:
    """What to do with try `attempt` that raised `error`.

    A permanent error skips the remaining backoff: the next try is the last one, where the
    converter quarantines the mail (a human sees why) instead of waiting out every step.
    """
    if isinstance(error, RejectedError):
        return DeadLetter(f"rejected: {error}")
    if attempt >= policy.attempts:
        return DeadLetter(f"failed {attempt} time(s), last: {describe_error(error)}")
    following = policy.attempts if isinstance(error, PermanentError) else attempt + 1
    return Retry(attempt=following, delay_s=policy.delay_before(attempt + 1))


def attempt_of(headers: Mapping[str, Any] | None) -> int:
    """The try a delivered message is on: our header, 1 when it is missing or garbled."""
    value = (headers or {}).get(ATTEMPT_HEADER)
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    try:
        attempt = int(str(value)) if value is not None else 1
    except ValueError:
        return 1
    return max(attempt, 1)


def copy_headers(
    headers: Mapping[str, Any] | None, updates: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Headers for a new copy of a message: ours and the publisher's kept, the broker's own
    bookkeeping dropped, `updates` (a None value removes that header) applied."""
    kept = {
        key: value
        for key, value in (headers or {}).items()
        if key not in _BROKER_HEADERS and not key.startswith(_BROKER_PREFIXES)
    }
    for key, value in (updates or {}).items():
        if value is None:
            kept.pop(key, None)
        else:
            kept[key] = value
    return kept


def describe_error(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"


def delay_ms(seconds: float) -> int:
    """A delay in whole milliseconds (at least 1): the TTL of its delay queue."""
    return max(math.ceil(seconds * 1000 - 1e-6), 1)


def delay_label(seconds: float) -> str:
    """A delay as a queue-name part: 250ms, 5s, 2m, 1h (milliseconds when not whole)."""
    ms = delay_ms(seconds)
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def retry_queue(queue: str, seconds: float) -> str:
    """The delay queue that holds `queue`'s messages for `seconds` (named by its delay, so
    changed settings make new queues instead of clashing with the old ones' TTL)."""
    return f"{queue}.retry.{delay_label(seconds)}"


def dead_letter_queue(queue: str) -> str:
    return f"{queue}.dlq"
