"""Whether one more automatic mail may go out now, decided on the stored send history (so the
answer is the same on every replica and after a restart): the loop breaker (auto-replies
only), the rate limits and RFC 3834's identical-reply rule, then the hourly budgets in all and
per recipient domain. Concurrent senders can overshoot a window by their number. The history
is read together with the mail's ledger entry (`window` says what to read, the store's
`check_send` reads it in one round trip); `why_held` only decides."""

from datetime import datetime

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
from postroom_shared.store.ports.replies import SendCheck, SendWindow

__all__ = ["why_held", "window"]


def window(settings: ReplierSettings, now: datetime) -> SendWindow:
    """The history a new automatic mail is checked against, as of `now`."""
    return SendWindow(
        since=now - HISTORY,
        budget_since=now - BUDGET_WINDOW,
        budget=settings.automail_max_per_hour,
        domain_budget=settings.automail_max_per_domain_per_hour,
    )


def why_held(
    settings: ReplierSettings,
    check: SendCheck,
    now: datetime,
    *,
    recipient: str,
    item_id: str,
    content: str,
    auto_reply: bool,
) -> str | None:
    """Why this new automatic mail to `recipient` must not go out, or None; `check` holds the
    history `window(settings, now)` asked for."""
    history = check.history
    rule = settings.breaker_rule()
    breaker = breaker_for(recipient, history, rule, now) if auto_reply else None
    if breaker is not None:
        return breaker_why(breaker, rule)
    limited = rate_limit_reason(
        now=now, recipient=recipient, item_id=item_id, content=content, history=history
    )
    if limited is not None:
        return limited
    if reason := budget_reason(check.sent, settings.automail_max_per_hour):
        return reason
    return budget_reason(
        check.sent_to_domain,
        settings.automail_max_per_domain_per_hour,
        domain=domain_of(recipient),
    )
