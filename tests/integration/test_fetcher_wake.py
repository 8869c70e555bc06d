"""Activating an account, or a "fetch now", starts fetching within a second (issue 15): the
API announces the change on the broker (`postroom_api.announcing_store`) and the fetcher
reconciles at once, although its periodic re-read is set to 10 s here (as in production).

Real Dovecot, RabbitMQ and SQLite; the API app over HTTP, the fetcher's supervisor in this
process on a store connection of its own.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from postroom_fetcher.service import Fetcher
from postroom_shared.store import Store
from tests.integration import fetcher_helpers as fh
from tests.integration.api_harness import Api, running_api
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack

# The production fallbacks, or slower: only the hint can make either test pass.
SLOW = {"accounts_refresh_s": 10.0, "wake_check_s": 10.0, "lease_renew_s": 10.0}


@asynccontextmanager
async def _running(
    stack: StackEnv, store: Store, url: str, *, replicas: int = 1
) -> AsyncIterator[tuple[Api, list[Fetcher], fh.Tap]]:
    """The API, a tap on mail.received.v1 and supervising fetcher replicas with the SLOW
    fallbacks."""
    async with (
        running_api(stack, url) as api,
        fh.broker_and_tap(stack, url, "mail.received.v1") as (broker, tap),
    ):
        cfg = fh.settings(stack, url, **SLOW)
        fetchers = [
            Fetcher(store=store, broker=broker, secrets=fh.BOX, settings=cfg, replica_id=f"r{n}")
            for n in range(replicas)
        ]
        tasks = [asyncio.create_task(fetcher.supervise()) for fetcher in fetchers]
        try:
            await asyncio.wait_for(api.components.broker_ready.wait(), timeout=10)
            yield api, fetchers, tap
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


async def _seconds_to_first_mail(tap: fh.Tap, since: float, after: str) -> float:
    first = await tap.collect("mail.received.v1", 1, timeout_s=12.0, settle_s=0.0)
    took = asyncio.get_running_loop().time() - since
    print(f"{after} -> first mail.received.v1: {took * 1000:.0f} ms")
    assert len(first) == 1, f"no mail within 12 s of the {after}"
    return took


async def test_activation_starts_fetching_within_a_second(
    stack: StackEnv, sqlite_store: Store, sqlite_url: str
) -> None:
    folder = fh.new_folder(stack, "support", fh.mail("waiting 1"), fh.mail("waiting 2"))
    acc = fh.account(stack, user="support", folder=folder, use_idle=False, active=False)
    await sqlite_store.put_account(acc)
    async with _running(stack, sqlite_store, sqlite_url) as (api, [fetcher], tap):
        await asyncio.sleep(1.0)  # its first pass is done: nothing active
        assert fetcher.owned == set()
        loop = asyncio.get_running_loop()
        response = await api.post(f"/v1/accounts/{acc.id}/activate")
        assert response.status_code == 200, response.text
        activated = loop.time()
        took = await _seconds_to_first_mail(tap, activated, "activation")
        assert took < 1.0, f"the first mail came {took:.2f} s after the activation"
        # Deactivation reaches the fetcher as fast: it lets go of the account.
        response = await api.post(f"/v1/accounts/{acc.id}/deactivate")
        assert response.status_code == 200, response.text

        async def released() -> bool:
            return acc.id not in fetcher.owned

        assert await fh.wait_for(released, timeout_s=1.0)


async def test_fetch_now_starts_fetching_within_a_second(
    stack: StackEnv, sqlite_store: Store, sqlite_url: str
) -> None:
    folder = fh.new_folder(stack, "support")
    acc = fh.account(stack, user="support", folder=folder, use_idle=False, poll_interval_s=3600)
    await sqlite_store.put_account(acc)
    async with _running(stack, sqlite_store, sqlite_url) as (api, _fetchers, tap):

        async def polled() -> bool:
            state = await sqlite_store.get_account_state(acc.id)
            return state is not None and state.last_success is not None

        assert await fh.wait_for(polled)
        with fh.imap(stack, "support") as client:
            client.append(folder, fh.mail("fetch me now"))
        loop = asyncio.get_running_loop()
        response = await api.post(f"/v1/accounts/{acc.id}/refresh")
        assert response.status_code == 200 and response.json()["fetch_requested"]
        requested = loop.time()
        took = await _seconds_to_first_mail(tap, requested, "fetch-now request")
        assert took < 1.0, f"the mail came {took:.2f} s after the fetch-now request"


async def test_with_two_replicas_the_lease_holder_reacts_at_once(
    stack: StackEnv, sqlite_store: Store, sqlite_url: str
) -> None:
    folder = fh.new_folder(stack, "support", fh.mail("waiting"))
    acc = fh.account(stack, user="support", folder=folder, use_idle=False, active=False)
    acc.poll_interval_s = 3600
    await sqlite_store.put_account(acc)
    async with _running(stack, sqlite_store, sqlite_url, replicas=2) as (api, fetchers, tap):
        await asyncio.sleep(1.0)  # both made their first pass: nothing active
        loop = asyncio.get_running_loop()
        response = await api.post(f"/v1/accounts/{acc.id}/activate")
        assert response.status_code == 200, response.text
        assert await _seconds_to_first_mail(tap, loop.time(), "activation") < 1.0
        owners = [f for f in fetchers if acc.id in f.owned]
        assert len(owners) == 1, "exactly one replica took the account"
        with fh.imap(stack, "support") as client:
            client.append(folder, fh.mail("fetch me now"))
        response = await api.post(f"/v1/accounts/{acc.id}/refresh")
        assert response.status_code == 200 and response.json()["fetch_requested"]
        assert await _seconds_to_first_mail(tap, loop.time(), "fetch-now request") < 1.0
