"""Strikes against mail the server cannot hand out, kept as seen keys in the store (the rule
itself, and why, is `domain/poison.py`)."""

from postroom_fetcher.domain.poison import POISON_STRIKES, strike_keys
from postroom_fetcher.store import FetcherStore

__all__ = ["add_strikes", "clear_strikes", "count_strikes"]


async def count_strikes(
    store: FetcherStore, account_id: str, namespace: str, ids: list[str]
) -> dict[str, int]:
    """Strikes per message id (0 for most)."""
    wanted = [key for message_id in ids for key in strike_keys(message_id)]
    found = await store.seen_keys(account_id, namespace, wanted) if wanted else set()
    return {message_id: sum(key in found for key in strike_keys(message_id)) for message_id in ids}


async def add_strikes(
    store: FetcherStore, account_id: str, namespace: str, ids: list[str], strikes: dict[str, int]
) -> None:
    """One more strike for each of `ids`; `strikes` is updated in place."""
    keys = [
        f"{message_id}/{strikes.get(message_id, 0) + 1}"
        for message_id in ids
        if strikes.get(message_id, 0) < POISON_STRIKES
    ]
    for message_id in ids:
        strikes[message_id] = strikes.get(message_id, 0) + 1
    if keys:
        await store.add_seen_keys(account_id, namespace, keys)


async def clear_strikes(
    store: FetcherStore, account_id: str, namespace: str, keep_ids: list[str] | None = None
) -> None:
    """Forget strikes once the mail was handled (all, or all but `keep_ids`)."""
    keep = [key for message_id in keep_ids or [] for key in strike_keys(message_id)]
    await store.prune_seen_keys(account_id, namespace, keep)
