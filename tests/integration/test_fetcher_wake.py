"""Activating an account, or a "fetch now", starts fetching within a second (issue 15): the
API announces the change on the broker (`postroom_api.announcing_store`) and the fetcher
reconciles at once, although its periodic re-read is set to 10 s here (as in production).

Real Dovecot, RabbitMQ and SQLite; the API app over HTTP, the fetcher's supervisor in this
process on a store connection of its own.
"""

import asyncio

import pytest

from postroom_fetcher.service import Fetcher
from postroom_shared.store import Store
from tests.integration.api_harness import running_api
from tests.integration.fetcher_helpers import (
    BOX,
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

# The production fallbacks, or slower: only the hint can make either test pass.
SLOW = {"accounts_refresh_s": 10.0, "wake_check_s": 10.0, "lease_renew_s": 10.0}


async def test_activation_starts_fetching_within_a_second(
    stack: StackEnv, sqlite_store: Store, sqlite_url: str
) -> None:
    folder = new_folder(stack, "support", mail("waiting 1"), mail("waiting 2"))
    acc = account(stack, user="support", folder=folder, use_idle=False, active=False)
    await sqlite_store.put_account(acc)
    cfg = settings(stack, sqlite_url, **SLOW)
    async with (
        running_api(stack, sqlite_url) as api,
        broker_and_tap(stack, sqlite_url, "mail.received.v1") as (broker, tap),
    ):
        fetcher = Fetcher(store=sqlite_store, broker=broker, secrets=BOX, settings=cfg)
        task = asyncio.create_task(fetcher.supervise())
        try:
            await asyncio.wait_for(api.components.broker_ready.wait(), timeout=10)
            await asyncio.sleep(1.0)  # its first pass is done: nothing active
            assert fetcher.owned == set()
            loop = asyncio.get_running_loop()
            response = await api.post(f"/v1/accounts/{acc.id}/activate")
            assert response.status_code == 200, response.text
            activated = loop.time()
            first = await tap.collect("mail.received.v1", 1, timeout_s=5.0, settle_s=0.0)
            took = loop.time() - activated
            print(f"activation -> first mail.received.v1: {took * 1000:.0f} ms")
            assert len(first) == 1
            assert took < 1.0, f"the first mail came {took:.2f} s after the activation"
            # Deactivation reaches the fetcher as fast: it lets go of the account.
            response = await api.post(f"/v1/accounts/{acc.id}/deactivate")
            assert response.status_code == 200, response.text

            async def released() -> bool:
                return acc.id not in fetcher.owned

            assert await wait_for(released, timeout_s=1.0)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_fetch_now_starts_fetching_within_a_second(
    stack: StackEnv, sqlite_store: Store, sqlite_url: str
) -> None:
    folder = new_folder(stack, "support")
    acc = account(stack, user="support", folder=folder, use_idle=False, poll_interval_s=3600)
    await sqlite_store.put_account(acc)
    cfg = settings(stack, sqlite_url, **SLOW)
    async with (
        running_api(stack, sqlite_url) as api,
        broker_and_tap(stack, sqlite_url, "mail.received.v1") as (broker, tap),
    ):
        fetcher = Fetcher(store=sqlite_store, broker=broker, secrets=BOX, settings=cfg)
        task = asyncio.create_task(fetcher.supervise())
        try:

            async def polled() -> bool:
                state = await sqlite_store.get_account_state(acc.id)
                return state is not None and state.last_success is not None

            assert await wait_for(polled)
            await asyncio.wait_for(api.components.broker_ready.wait(), timeout=10)
            with imap(stack, "support") as client:
                client.append(folder, mail("fetch me now"))
            loop = asyncio.get_running_loop()
            response = await api.post(f"/v1/accounts/{acc.id}/refresh")
            assert response.status_code == 200 and response.json()["fetch_requested"]
            requested = loop.time()
            first = await tap.collect("mail.received.v1", 1, timeout_s=12.0, settle_s=0.0)
            took = loop.time() - requested
            print(f"fetch now -> first mail.received.v1: {took * 1000:.0f} ms")
            assert len(first) == 1
            assert took < 1.0, f"the mail came {took:.2f} s after the fetch-now request"
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
