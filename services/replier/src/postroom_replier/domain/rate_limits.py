"""Time-window limits on automatic mail (DESIGN.md §6, Zammad's proven defaults) and RFC 3834's
"at most one identical auto-reply per sender per 7 days".

A loop that slips past every header check still cannot run away: per item and recipient at most
10 in 10 minutes … 100 in 10 hours, per recipient overall 30 … 360.
"""

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta

from postroom_shared.models import SendRecord

__all__ = [
    "HISTORY",
    "PER_ITEM_AND_RECIPIENT",
    "PER_RECIPIENT",
    "fingerprint",
    "rate_limit_reason",
]

PER_ITEM_AND_RECIPIENT: tuple[tuple[int, int], ...] = (
    (10, 10), (30, 15), (60, 25), (180, 50), (600, 100),
)  # fmt: skip  # (minutes, at most)
PER_RECIPIENT: tuple[tuple[int, int], ...] = (
    (10, 30), (30, 60), (60, 120), (180, 240), (600, 360),
)  # fmt: skip
IDENTICAL = timedelta(days=7)
HISTORY = IDENTICAL  # how far back the service must load the recipient's history


def fingerprint(subject: str, body: str) -> str:
    """Identity of an automatic mail's content, for the identical-reply rule."""
    return hashlib.sha256(f"{subject}\x00{body}".encode()).hexdigest()


def _over(
    history: Sequence[SendRecord], now: datetime, limits: tuple[tuple[int, int], ...]
) -> tuple[int, int] | None:
    for minutes, most in limits:
        since = now - timedelta(minutes=minutes)
        if sum(1 for record in history if record.at >= since) >= most:
            return minutes, most
    return None


def rate_limit_reason(
    *,
    now: datetime,
    recipient: str,
    item_id: str,
    content: str,
    history: Sequence[SendRecord],
) -> str | None:
    """Why one more automatic mail to `recipient` about `item_id` must not go out, or None.

    `history` is the recipient's automatic mail of the last `HISTORY`.
    """
    for record in history:
        if record.fingerprint == content and now - record.at < IDENTICAL:
            return (
                f"an identical automatic mail went to {recipient} at {record.at:%Y-%m-%d %H:%M}"
                " (RFC 3834: at most once per 7 days)"
            )
    hit = _over([r for r in history if r.item_id == item_id], now, PER_ITEM_AND_RECIPIENT)
    if hit:
        return (
            f"rate limit: {hit[1]} automatic mails about this item to {recipient} in {hit[0]} min"
        )
    hit = _over(history, now, PER_RECIPIENT)
    if hit:
        return f"rate limit: {hit[1]} automatic mails to {recipient} in {hit[0]} min"
    return None
