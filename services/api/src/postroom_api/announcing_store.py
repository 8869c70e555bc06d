"""The API's store, announcing every configuration write on the broker after it is stored
(`postroom_shared.config_hints`): the fetcher then starts or stops an account within a second
of its activation, and the converter's and replier's config caches drop what changed.

Why a wrapper of the store and not a call in each route: the routes, the console (which calls
the same route functions) and the OAuth flow all write configuration through this one store,
so no write path can forget to announce. A hint is only a shortcut (every listener re-reads
periodically), so one that cannot go out is logged and the request still succeeds.
"""

import asyncio

from faststream.rabbit import RabbitBroker

from postroom_fetcher.ops import FETCH_NOW_NAMESPACE
from postroom_shared.config_hints import announce
from postroom_shared.store import Store
from postroom_shared.store.config_writes import ConfigWrites

__all__ = ["AnnouncingStore", "announcing"]


def announcing(store: Store, broker: RabbitBroker, ready: asyncio.Event) -> Store:
    """`store`, announcing its configuration writes once `ready` (the broker is connected)."""
    return AnnouncingStore(store, broker, ready).as_store()


class AnnouncingStore(ConfigWrites):
    def __init__(self, store: Store, broker: RabbitBroker, ready: asyncio.Event) -> None:
        super().__init__(store)
        self._broker = broker
        self._ready = ready

    async def written(self, what: str, ident: str | None) -> None:
        if self._ready.is_set():  # before the broker is up nobody could hear it anyway
            await announce(self._broker, what, ident)

    async def add_seen_keys(self, account_id: str, namespace: str, keys: list[str]) -> None:
        await self._store.add_seen_keys(account_id, namespace, keys)
        if namespace == FETCH_NOW_NAMESPACE:  # "fetch now" (`probe.request_fetch_now`)
            await self.written("fetch_now", account_id)
