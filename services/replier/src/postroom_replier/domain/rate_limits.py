"""Time-window limits on automatic mail (Zammad's proven defaults), RFC 3834's "at most one
identical auto-reply per sender per 7 days", and the global budgets.

A loop that slips past every header check still cannot run away: per item and recipient at most
10 in 10 minutes … 100 in 10 hours, per recipient overall 30 … 360. Forged mail (any From or
Reply-To) cannot turn Postroom into a mail cannon either: at most POSTROOM_AUTOMAIL_MAX_PER_HOUR
automatic mails per hour in all, POSTROOM_AUTOMAIL_MAX_PER_DOMAIN_PER_HOUR per recipient domain.
"""

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta

from postroom_shared.models import SendRecord

__all__ = [
    "BUDGET_WINDOW",
    "DOMAIN_BUDGET",
    "GLOBAL_BUDGET",
    "HISTORY",
    "PER_ITEM_AND_RECIPIENT",
    "PER_RECIPIENT",
    "budget_reason",
    "domain_of",
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
BUDGET_WINDOW = timedelta(hours=1)
GLOBAL_BUDGET = "global_budget"
DOMAIN_BUDGET = "domain_budget"


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


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].lower()


def budget_reason(sent: int, limit: int, *, domain: str | None = None) -> str | None:
    """Why one more automatic mail must not go out when `sent` went out in the last hour (to
    `domain`, when given) and the budget is `limit` (0: no budget), or None. The reason starts
    with the code the metrics count."""
    if limit <= 0 or sent < limit:
        return None
    if domain is None:
        return (
            f"{GLOBAL_BUDGET}: {sent} automatic mails in the last hour"
            " (POSTROOM_AUTOMAIL_MAX_PER_HOUR)"
        )
    return (
        f"{DOMAIN_BUDGET}: {sent} automatic mails to {domain} in the last hour"
        " (POSTROOM_AUTOMAIL_MAX_PER_DOMAIN_PER_HOUR)"
    )
