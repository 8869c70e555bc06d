"""The loop breakers active for one account, read from the send history (for the API's account
state; the replier decides per mail in `service.py` with the same rule)."""

from postroom_replier.domain.loop_breaker import Breaker, BreakerRule, active_breakers
from postroom_shared.models import utcnow
from postroom_shared.store.ports import SendHistoryReader

__all__ = ["account_breakers"]

_MOST_RECORDS = 20_000  # far above what the hourly budgets let through in a breaker's lookback


async def account_breakers(
    store: SendHistoryReader, account_id: str, rule: BreakerRule
) -> list[Breaker]:
    if rule.items <= 0:
        return []
    now = utcnow()
    history = await store.account_sends_since(account_id, now - rule.lookback, limit=_MOST_RECORDS)
    return active_breakers(history, rule, now)
