"""The services' configuration cache (`postroom_shared.store.config_cache`) on SQLite and on
MongoDB: a change written by another process (the API, on a store connection of its own) is
seen at once after the hint, and within the TTL without one; a write through the cache drops
it and is announced.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from postroom_shared.models import NotificationTemplate, SmtpSettings, Workflow, WorkflowStep
from postroom_shared.store import Store
from postroom_shared.store.config_cache import ConfigCache
from tests import factories
from tests.conftest import opened_store


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def writer(store_url: str) -> AsyncIterator[Store]:
    """The API's connection to the same store."""
    async with opened_store(store_url) as opened:
        yield opened


def _workflow(name: str) -> Workflow:
    return Workflow(
        id="wf1",
        name=name,
        steps=[WorkflowStep(name="New"), WorkflowStep(name="Done")],
    )


async def _snapshot(cache: ConfigCache) -> tuple[object, ...]:
    account = await cache.get_account("acc1")
    workflow = await cache.get_workflow("wf1")
    smtp = await cache.get_smtp_settings()
    template = await cache.get_template("t1")
    return (
        account.name if account else None,
        [a.name for a in await cache.list_accounts()],
        workflow.name if workflow else None,
        smtp.host if smtp else None,
        template.subject if template else None,
        [t.subject for t in await cache.list_templates()],
    )


async def _change_everything(writer: Store) -> None:
    account = factories.account()
    account.name = "Renamed"
    await writer.put_account(account)
    await writer.put_workflow(_workflow("Renamed"))
    await writer.put_smtp_settings(SmtpSettings(host="smtp.changed.test", port=25))
    await writer.put_template(NotificationTemplate(id="t1", name="t", subject="Changed", text="b"))


async def _fill(writer: Store) -> None:
    await writer.put_account(factories.account())
    await writer.put_workflow(_workflow("Original"))
    await writer.put_smtp_settings(SmtpSettings(host="smtp.original.test", port=25))
    await writer.put_template(NotificationTemplate(id="t1", name="t", subject="Original", text="b"))


BEFORE = (
    "Support",
    ["Support"],
    "Original",
    "smtp.original.test",
    "Original",
    ["Original"],
)
AFTER = ("Renamed", ["Renamed"], "Renamed", "smtp.changed.test", "Changed", ["Changed"])


async def test_a_hint_makes_a_change_visible_at_once(store: Store, writer: Store) -> None:
    await _fill(writer)
    cache = ConfigCache(store, ttl_s=3600, clock=Clock())
    assert await _snapshot(cache) == BEFORE
    await _change_everything(writer)
    assert await _snapshot(cache) == BEFORE  # cached: no store read saw the change
    cache.invalidate()  # what a config.changed.v1 hint does
    assert await _snapshot(cache) == AFTER


async def test_without_a_hint_the_ttl_bounds_staleness(store: Store, writer: Store) -> None:
    await _fill(writer)
    clock = Clock()
    cache = ConfigCache(store, ttl_s=30, clock=clock)
    assert await _snapshot(cache) == BEFORE
    await _change_everything(writer)
    clock.now += 29.9
    assert await _snapshot(cache) == BEFORE
    clock.now += 0.2
    assert await _snapshot(cache) == AFTER


async def test_a_write_through_the_cache_drops_it_and_is_announced(
    store: Store, writer: Store
) -> None:
    await _fill(writer)
    announced: list[tuple[str, str | None]] = []

    async def announce(what: str, ident: str | None) -> None:
        announced.append((what, ident))

    cache = ConfigCache(store, ttl_s=3600, announce=announce, clock=Clock())
    assert await _snapshot(cache) == BEFORE
    account = factories.account()
    account.name = "Renamed"
    await cache.put_account(account)
    assert (await _snapshot(cache))[:2] == ("Renamed", ["Renamed"])
    assert await cache.set_refresh_token("acc1", "v1:new") is False  # no oauth: nothing stored
    assert await cache.delete_template("t1")
    assert await cache.get_template("t1") is None
    assert announced == [("account", "acc1"), ("template", "t1")]


async def test_ttl_zero_reads_the_store_every_time(store: Store, writer: Store) -> None:
    await _fill(writer)
    cache = ConfigCache(store, ttl_s=0, clock=Clock())
    assert await _snapshot(cache) == BEFORE
    await _change_everything(writer)
    assert await _snapshot(cache) == AFTER


async def test_other_methods_are_the_stores_own(store: Store) -> None:
    cache = ConfigCache(store, ttl_s=3600).as_store()
    await cache.put_account(factories.account())
    await cache.add_seen_keys("acc1", "ns", ["k"])
    assert await cache.seen_keys("acc1", "ns", ["k", "x"]) == {"k"}


class _CountingReads:
    """The store, counting its get_account calls."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def get_account(self, account_id: str) -> object:
        self.reads += 1
        return await self._store.get_account(account_id)


async def test_callers_side_by_side_share_one_store_read(store: Store, writer: Store) -> None:
    await _fill(writer)
    counting = _CountingReads(store)
    cache = ConfigCache(cast(Store, counting), ttl_s=3600)
    accounts = await asyncio.gather(*(cache.get_account("acc1") for _ in range(8)))
    assert [a.name if a else None for a in accounts] == ["Support"] * 8
    assert counting.reads == 1
    cache.invalidate()
    await asyncio.gather(*(cache.get_account("acc1") for _ in range(8)))
    assert counting.reads == 2
