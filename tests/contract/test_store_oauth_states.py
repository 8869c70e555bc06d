"""Contract of the configuration port's record of used OAuth sign-in states, on both adapters: a
state is used once, even when two API processes race for it, and its record goes once the state
has expired."""

import asyncio
from datetime import timedelta

from postroom_shared.models import utcnow
from postroom_shared.store.ports import ConfigStore
from tests.conftest import opened_store


async def test_a_state_is_used_once(store: ConfigStore) -> None:
    until = utcnow() + timedelta(minutes=15)
    assert await store.consume_oauth_state("st_1", until) is True
    assert await store.consume_oauth_state("st_1", until) is False
    assert await store.consume_oauth_state("st_1", until + timedelta(minutes=5)) is False
    assert await store.consume_oauth_state("st_2", until) is True


async def test_two_processes_racing_for_one_state_use_it_once(
    store: ConfigStore, store_url: str
) -> None:
    until = utcnow() + timedelta(minutes=15)
    async with opened_store(store_url) as other:
        uses = await asyncio.gather(
            *(s.consume_oauth_state("st_race", until) for s in [store, other] * 10)
        )
    assert sorted(uses) == [False] * 19 + [True]


async def test_records_go_once_their_state_expired(store: ConfigStore) -> None:
    expired = utcnow() - timedelta(seconds=1)
    assert await store.consume_oauth_state("st_old", expired) is True
    # the state itself is refused after its expiry; its record need not be kept
    assert await store.consume_oauth_state("st_new", utcnow() + timedelta(minutes=15)) is True
    assert await store.consume_oauth_state("st_old", expired) is True
