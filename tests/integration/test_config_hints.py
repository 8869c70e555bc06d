"""Configuration hints end to end on the real RabbitMQ: a change made through the API reaches a
service's config cache at once (its TTL is an hour here), and a hint that cannot go out fails
nothing."""

import asyncio
import time

import pytest
from pydantic import SecretStr

from postroom_replier.settings import ReplierSettings
from postroom_shared.config_hints import announce, cached_config
from postroom_shared.runtime import make_broker
from postroom_shared.store import Store
from tests import factories
from tests.integration.api_harness import SECRET, running_api
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack


async def test_an_api_change_reaches_a_services_cache_at_once(
    stack: StackEnv, sqlite_store: Store, sqlite_url: str
) -> None:
    settings = ReplierSettings(
        store_url=sqlite_url,
        broker_url=stack.amqp_url,
        secret_key=SecretStr(SECRET),
        config_cache_ttl_s=3600,
    )
    await sqlite_store.put_account(factories.account())
    broker = make_broker(settings)
    await broker.connect()
    cache, hints = cached_config(broker, sqlite_store, settings, "replier")
    listening = asyncio.create_task(hints)
    try:
        async with running_api(stack, sqlite_url) as api:
            await listening  # subscribed once it returns
            await asyncio.wait_for(api.components.broker_ready.wait(), timeout=10)
            cached = await cache.get_account("acc1")
            assert cached is not None and cached.active
            response = await api.post("/v1/accounts/acc1/deactivate")
            assert response.status_code == 200, response.text
            changed = time.monotonic()

            async def inactive() -> bool:
                account = await cache.get_account("acc1")
                return account is not None and not account.active

            while not await inactive():
                assert time.monotonic() - changed < 1.0, "the change did not reach the cache"
                await asyncio.sleep(0.01)
            print(f"API change -> cache: {(time.monotonic() - changed) * 1000:.0f} ms")
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        await broker.stop()


async def test_a_hint_that_cannot_go_out_fails_nothing(stack: StackEnv, sqlite_url: str) -> None:
    settings = ReplierSettings(
        store_url=sqlite_url,
        broker_url=f"amqp://guest:guest@127.0.0.1:{stack.base + 999}/",  # nobody listens
        secret_key=SecretStr(SECRET),
    )
    started = time.monotonic()
    await announce(make_broker(settings), "account", "acc1")  # logged, not raised
    assert time.monotonic() - started < 2.0
