"""Configuration kept in memory for the services that read it for every mail (the converter:
the account and its workflow; the replier: the account, every account's address, the SMTP
settings, templates), instead of a store round trip (a thread hop on SQLite) and a
deserialisation each time.

It stays fresh in two ways (docs/architecture.md "Configuration changes"): a configuration
hint (`postroom_shared.config_hints`) drops the whole cache at once, and every entry expires
after `ttl_s` anyway, which bounds how stale a replica can be when a hint is lost (broker
restart, a write made beside the API). A write made through the cache itself (an OAuth
refresh token rotated by this service) drops it too, and is announced to the other replicas.

Readers must not modify what it returns: the same objects are handed to every caller.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from postroom_shared.models import EmailAccount, NotificationTemplate, SmtpSettings, Workflow
from postroom_shared.store.config_writes import ConfigWrites
from postroom_shared.store.ports import Store

__all__ = ["ConfigCache"]

type Announce = Callable[[str, str | None], Awaitable[None]]


async def _no_announce(what: str, ident: str | None) -> None:
    return None


class ConfigCache(ConfigWrites):
    """`store` with its configuration reads cached for `ttl_s` (0: not cached at all)."""

    def __init__(
        self,
        store: Store,
        *,
        ttl_s: float,
        announce: Announce = _no_announce,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(store)
        self.ttl_s = ttl_s
        self._announce = announce
        self._clock = clock
        self._entries: dict[tuple[str, ...], tuple[float, Any]] = {}
        self._loading: dict[tuple[str, ...], tuple[int, asyncio.Future[Any]]] = {}
        self._generation = 0

    def invalidate(self) -> None:
        """Forget everything (a configuration hint came)."""
        self._generation += 1
        self._entries.clear()

    async def _cached[T](self, key: tuple[str, ...], load: Callable[[], Awaitable[T]]) -> T:
        if self.ttl_s <= 0:
            return await load()
        hit = self._entries.get(key)
        if hit is not None and hit[0] > self._clock():
            value: T = hit[1]
            return value
        # Handlers run side by side (prefetch): after a change they would all miss at once,
        # so one store read is shared by every caller that asks while it runs.
        loading = self._loading.get(key)
        if loading is None or loading[0] != self._generation:
            loading = (self._generation, asyncio.ensure_future(load()))
            self._loading[key] = loading
            loading[1].add_done_callback(partial(self._loaded, key, self._generation))
        loaded: T = await asyncio.shield(loading[1])
        return loaded

    def _loaded(self, key: tuple[str, ...], generation: int, task: asyncio.Future[Any]) -> None:
        if self._loading.get(key, (None, None))[1] is task:
            del self._loading[key]
        if task.cancelled() or task.exception() is not None:  # every waiter got the error
            return
        # A hint that came while the store answered may concern what it answered: not kept.
        if generation == self._generation:
            self._entries[key] = (self._clock() + self.ttl_s, task.result())

    async def get_account(self, account_id: str) -> EmailAccount | None:
        return await self._cached(
            ("account", account_id), lambda: self._store.get_account(account_id)
        )

    async def list_accounts(self, *, active_only: bool = False) -> list[EmailAccount]:
        return await self._cached(
            ("accounts", str(active_only)),
            lambda: self._store.list_accounts(active_only=active_only),
        )

    async def get_workflow(self, workflow_id: str) -> Workflow | None:
        return await self._cached(
            ("workflow", workflow_id), lambda: self._store.get_workflow(workflow_id)
        )

    async def list_workflows(self) -> list[Workflow]:
        return await self._cached(("workflows",), self._store.list_workflows)

    async def get_smtp_settings(self) -> SmtpSettings | None:
        return await self._cached(("smtp",), self._store.get_smtp_settings)

    async def get_template(self, template_id: str) -> NotificationTemplate | None:
        return await self._cached(
            ("template", template_id), lambda: self._store.get_template(template_id)
        )

    async def list_templates(self) -> list[NotificationTemplate]:
        return await self._cached(("templates",), self._store.list_templates)

    async def written(self, what: str, ident: str | None) -> None:
        self.invalidate()
        await self._announce(what, ident)
