"""The loop breaker: an address that keeps opening new items, each answered, gets silence.

The rate limits bound a mail loop, they do not end it: an auto-responder on the customer's side
that answers every mail with a fresh subject and no threading headers opens a new item each
time, and each new item gets an auto-reply, up to the per-recipient limit (30 in 10 minutes).
The breaker ends such a duel: when `rule.items` new items whose mail came from one address were
each answered within `rule.window_s`, that address gets no auto-reply for `rule.silence_s`
(`why = loop_breaker`). A person who writes three separate mails within minutes loses nothing
but the acknowledgements: the items are still created.

It is computed from the stored send history (auto-replies only, the first per item), so it holds
across restarts and replicas and needs no state of its own.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from postroom_shared.models import SendRecord

__all__ = ["LOOP_BREAKER", "Breaker", "BreakerRule", "active_breakers", "breaker_for", "why"]

LOOP_BREAKER = "loop_breaker"


@dataclass(frozen=True)
class BreakerRule:
    items: int = 3  # 0: the breaker is off
    window_s: float = 600.0
    silence_s: float = 3600.0

    @property
    def lookback(self) -> timedelta:
        """How much send history decides whether a breaker is active now."""
        return timedelta(seconds=self.window_s + self.silence_s)


@dataclass(frozen=True)
class Breaker:
    recipient: str
    tripped_at: datetime
    until: datetime
    items: int  # answered new items within the window that tripped it


def _first_answers(history: Iterable[SendRecord]) -> list[datetime]:
    first: dict[str, datetime] = {}
    for record in history:
        if record.purpose == "auto_reply":
            at = first.get(record.item_id)
            first[record.item_id] = record.at if at is None else min(at, record.at)
    return sorted(first.values())


def breaker_for(
    recipient: str, history: Sequence[SendRecord], rule: BreakerRule, now: datetime
) -> Breaker | None:
    """The breaker active for `recipient` at `now`, given its send history, or None."""
    if rule.items <= 0:
        return None
    window = timedelta(seconds=rule.window_s)
    times = [t for t in _first_answers(history) if t >= now - rule.lookback]
    tripped: tuple[datetime, int] | None = None
    for last in range(rule.items - 1, len(times)):
        first = last - rule.items + 1
        if times[last] - times[first] <= window:
            count = sum(1 for t in times[: last + 1] if t >= times[last] - window)
            tripped = (times[last], count)
    if tripped is None:
        return None
    until = tripped[0] + timedelta(seconds=rule.silence_s)
    return Breaker(recipient, tripped[0], until, tripped[1]) if now < until else None


def active_breakers(
    history: Iterable[SendRecord], rule: BreakerRule, now: datetime
) -> list[Breaker]:
    """Every breaker active at `now` in a mixed send history (the account state shows them)."""
    by_recipient: dict[str, list[SendRecord]] = {}
    for record in history:
        by_recipient.setdefault(record.recipient, []).append(record)
    found = (breaker_for(r, sent, rule, now) for r, sent in sorted(by_recipient.items()))
    return [breaker for breaker in found if breaker is not None]


def why(breaker: Breaker, rule: BreakerRule) -> str:
    """The suppression reason: starts with the code the metrics count (`loop_breaker`)."""
    minutes = f"{rule.window_s / 60:g}"
    return (
        f"{LOOP_BREAKER}: {breaker.recipient} got auto-replies to {breaker.items} new items"
        f" within {minutes} min (a mail loop?); no auto-reply to it until"
        f" {breaker.until:%Y-%m-%d %H:%M} UTC"
    )
