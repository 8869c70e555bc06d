"""The API's store, announcing every configuration write on the broker after it is stored
(`postroom_shared.config_hints`): the fetcher then starts or stops an account within a second
of its activation, and the converter's and replier's config caches drop what changed.

Why a wrapper of the store and not a call in each route: the routes, the console (which calls
the same route functions) and the OAuth flow all write configuration through this one store,
so no write path can forget to announce. A hint is only a shortcut (every listener re-reads
periodically), so one that cannot go out is logged and the request still succeeds.
"""

import asyncio
from typing import Any, cast

from faststream.rabbit import RabbitBroker

from postroom_fetcher.domain.leases import FETCH_NOW_NAMESPACE
from postroom_shared.config_hints import announce
from postroom_shared.models import EmailAccount, NotificationTemplate, SmtpSettings, Workflow
from postroom_shared.store import Store

__all__ = ["AnnouncingStore", "announcing"]


def announcing(store: Store, broker: RabbitBroker, ready: asyncio.Event) -> Store:
    """`store`, announcing its configuration writes once `ready` (the broker is connected)."""
    # Every other method is delegated unchanged (`__getattr__`), which mypy cannot see.
    return cast(Store, AnnouncingStore(store, broker, ready))


class AnnouncingStore:
    def __init__(self, store: Store, broker: RabbitBroker, ready: asyncio.Event) -> None:
        self._store = store
        self._broker = broker
        self._ready = ready

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def _announce(self, what: str, ident: str | None) -> None:
        if self._ready.is_set():  # before the broker is up nobody could hear it anyway
            await announce(self._broker, what, ident)

    async def put_account(self, account: EmailAccount) -> None:
        await self._store.put_account(account)
        await self._announce("account", account.id)

    async def delete_account(self, account_id: str) -> bool:
        deleted = await self._store.delete_account(account_id)
        if deleted:
            await self._announce("account", account_id)
        return deleted

    async def set_refresh_token(self, owner: str, refresh_token_enc: str) -> bool:
        stored = await self._store.set_refresh_token(owner, refresh_token_enc)
        if stored:
            await self._announce("smtp" if owner == "smtp" else "account", owner)
        return stored

    async def put_smtp_settings(self, settings: SmtpSettings) -> None:
        await self._store.put_smtp_settings(settings)
        await self._announce("smtp", None)

    async def delete_smtp_settings(self) -> bool:
        deleted = await self._store.delete_smtp_settings()
        if deleted:
            await self._announce("smtp", None)
        return deleted

    async def put_workflow(self, workflow: Workflow) -> None:
        await self._store.put_workflow(workflow)
        await self._announce("workflow", workflow.id)

    async def delete_workflow(self, workflow_id: str) -> bool:
        deleted = await self._store.delete_workflow(workflow_id)
        if deleted:
            await self._announce("workflow", workflow_id)
        return deleted

    async def put_template(self, template: NotificationTemplate) -> None:
        await self._store.put_template(template)
        await self._announce("template", template.id)

    async def delete_template(self, template_id: str) -> bool:
        deleted = await self._store.delete_template(template_id)
        if deleted:
            await self._announce("template", template_id)
        return deleted

    async def add_seen_keys(self, account_id: str, namespace: str, keys: list[str]) -> None:
        await self._store.add_seen_keys(account_id, namespace, keys)
        if namespace == FETCH_NOW_NAMESPACE:  # "fetch now" (`probe.request_fetch_now`)
            await self._announce("fetch_now", account_id)
