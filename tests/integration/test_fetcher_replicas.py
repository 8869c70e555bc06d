"""Several fetcher replicas on one store: each account read by one of them at a time, every
mail published once, a stopped replica's accounts taken over at once and a dead one's after
its leases expire."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from postroom_fetcher.domain.leases import lease_name
from postroom_fetcher.service import Fetcher
from postroom_shared.contracts import MailReceivedV1
from postroom_shared.models import AfterRead, EmailAccount
from postroom_shared.store import Store, open_store
from tests.integration.fetcher_helpers import (
    BOX,
    FAST,
    account,
    broker_and_tap,
    imap,
    mail,
    new_folder,
    settings,
    wait_for,
)
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack


@pytest.fixture
async def stores(store_url: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two connections to one store (SQLite, MongoDB), as two replicas (processes) have."""
    first, second = await open_store(store_url), await open_store(store_url)
    yield first, second
    await first.close()
    await second.close()


def _account(stack: StackEnv, folder: str) -> EmailAccount:
    return account(
        stack,
        user="alice",
        folder=folder,
        use_idle=False,
        poll_interval_s=1.0,
        after_read=AfterRead.MARK_READ,
    )


async def test_each_account_is_fetched_by_one_replica_and_taken_over(
    stack: StackEnv, stores: tuple[Store, Store], store_url: str
) -> None:
    store_a, store_b = stores
    accounts = [
        _account(stack, new_folder(stack, "alice", mail("m1"), mail("m2"))) for _ in range(4)
    ]
    for acc in accounts:
        await store_a.put_account(acc)
    cfg = settings(stack, store_url, **FAST)
    async with broker_and_tap(stack, store_url, "mail.received.v1") as (broker, tap):
        a = Fetcher(store=store_a, broker=broker, secrets=BOX, settings=cfg, replica_id="A")
        b = Fetcher(store=store_b, broker=broker, secrets=BOX, settings=cfg, replica_id="B")
        task_a = asyncio.create_task(a.supervise())
        await asyncio.sleep(0.1)
        task_b = asyncio.create_task(b.supervise())
        try:
            events = await tap.collect("mail.received.v1", 8, timeout_s=10, settle_s=2.0)
            assert len(events) == 8
            assert not (a.owned & b.owned)
            assert a.owned | b.owned == {acc.id for acc in accounts}

            # A stops cleanly: its leases are released and B takes over at once.
            task_a.cancel()
            await asyncio.gather(task_a, return_exceptions=True)

            async def b_has_all() -> bool:
                return b.owned == {acc.id for acc in accounts}

            assert await wait_for(b_has_all, timeout_s=3)
            with imap(stack, "alice") as client:
                for acc in accounts:
                    client.append(acc.folder, mail("after takeover"))
            events = await tap.collect("mail.received.v1", 12, timeout_s=10, settle_s=2.0)
        finally:
            for task in (task_a, task_b):
                task.cancel()
            await asyncio.gather(task_a, task_b, return_exceptions=True)
    keys = [MailReceivedV1.model_validate_json(body).mail_key for body in events]
    assert len(keys) == 12 and len(set(keys)) == 12


async def test_a_dead_replicas_account_is_taken_over_after_its_lease_expires(
    stack: StackEnv, stores: tuple[Store, Store], store_url: str
) -> None:
    store, _ = stores
    acc = _account(stack, new_folder(stack, "alice", mail("orphan")))
    # A replica took the account and died without releasing its lease.
    assert await store.acquire_lease(lease_name(acc.id), "dead-replica", 2.0)
    await store.put_account(acc)
    cfg = settings(stack, store_url, **FAST)
    async with broker_and_tap(stack, store_url, "mail.received.v1") as (broker, tap):
        fetcher = Fetcher(store=store, broker=broker, secrets=BOX, settings=cfg, replica_id="B")
        task = asyncio.create_task(fetcher.supervise())
        try:
            await asyncio.sleep(1.0)
            assert fetcher.owned == set()
            events = await tap.collect("mail.received.v1", 1, timeout_s=6, settle_s=0.5)
            assert fetcher.owned == {acc.id}
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert len(events) == 1
    # released on the clean shutdown: anybody can take it at once
    assert await store.acquire_lease(lease_name(acc.id), "someone-else", 30.0)
