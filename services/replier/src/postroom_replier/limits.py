"""Whether one more automatic mail may go out now, read from the stored send history (so the
answer is the same on every replica and after a restart): the loop breaker (auto-replies
only), the rate limits and RFC 3834's identical-reply rule, then the hourly budgets in all and
per recipient domain. Concurrent senders can overshoot a window by their number."""

from postroom_replier.domain.loop_breaker import breaker_for
from postroom_replier.domain.loop_breaker import why as breaker_why
from postroom_replier.domain.rate_limits import (
    BUDGET_WINDOW,
    HISTORY,
    budget_reason,
    domain_of,
    rate_limit_reason,
)
from postroom_replier.settings import ReplierSettings
from postroom_replier.store import ReplierStore
from postroom_shared.models import utcnow

__all__ = ["why_held"]


async def why_held(
    store: ReplierStore,
    settings: ReplierSettings,
    *,
    recipient: str,
    item_id: str,
    content: str,
    auto_reply: bool,
) -> str | None:
    """Why this new automatic mail to `recipient` must not go out, or None."""
    now = utcnow()
    history = await store.sends_since(recipient, now - HISTORY)
    rule = settings.breaker_rule()
    breaker = breaker_for(recipient, history, rule, now) if auto_reply else None
    if breaker is not None:
        return breaker_why(breaker, rule)
    limited = rate_limit_reason(
        now=now, recipient=recipient, item_id=item_id, content=content, history=history
    )
    if limited is not None:
        return limited
    since = now - BUDGET_WINDOW
    budget = settings.automail_max_per_hour
    if budget > 0:
        sent = await store.count_sends_since(since, limit=budget)
        if reason := budget_reason(sent, budget):
            return reason
    budget, domain = settings.automail_max_per_domain_per_hour, domain_of(recipient)
    if budget > 0:
        sent = await store.count_sends_since(since, domain=domain, limit=budget)
        return budget_reason(sent, budget, domain=domain)
    return None
