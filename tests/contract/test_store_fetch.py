"""Contract of the fetch port (checkpoints, seen keys, leases, account states), on SQLite and on
MongoDB.

Every test runs on both adapters (the `store` fixture, tests/conftest.py); MongoDB is the
mongoeco wire server unless POSTROOM_TEST_MONGODB_URL names a real one.
"""

import asyncio

from postroom_shared.models import AccountState, Checkpoint
from postroom_shared.store.ports import FetchStore


async def test_checkpoints(store: FetchStore) -> None:
    assert await store.get_checkpoint("a1", "INBOX") is None
    await store.set_checkpoint(
        Checkpoint(account_id="a1", folder="INBOX", uidvalidity=7, last_uid=3)
    )
    await store.set_checkpoint(
        Checkpoint(account_id="a1", folder="INBOX", uidvalidity=7, last_uid=9)
    )
    checkpoint = await store.get_checkpoint("a1", "INBOX")
    assert checkpoint is not None and (checkpoint.uidvalidity, checkpoint.last_uid) == (7, 9)


async def test_seen_keys(store: FetchStore) -> None:
    await store.add_seen_keys("a1", "uidl", ["u1", "u2", "u3"])
    await store.add_seen_keys("a1", "uidl", ["u3"])  # idempotent
    await store.add_seen_keys("a2", "uidl", ["u9"])
    assert await store.seen_keys("a1", "uidl", ["u1", "u3", "u9", "zz"]) == {"u1", "u3"}
    assert await store.seen_keys("a1", "msgid:INBOX", ["u1"]) == set()
    assert await store.prune_seen_keys("a1", "uidl", ["u2", "new"]) == 2
    assert await store.seen_keys("a1", "uidl", ["u1", "u2", "u3"]) == {"u2"}
    assert await store.seen_keys("a2", "uidl", ["u9"]) == {"u9"}


async def test_lease_is_exclusive_until_it_expires_or_is_released(store: FetchStore) -> None:
    assert await store.acquire_lease("account:a1", "r1", 30)
    assert not await store.acquire_lease("account:a1", "r2", 30)
    assert await store.acquire_lease("account:a1", "r1", 30)  # renewal
    await store.release_lease("account:a1", "r2")  # not the holder: no effect
    assert not await store.acquire_lease("account:a1", "r2", 30)
    await store.release_lease("account:a1", "r1")
    assert await store.acquire_lease("account:a1", "r2", 0.2)
    await asyncio.sleep(0.3)
    assert await store.acquire_lease("account:a1", "r3", 30)  # r2 died: expired


async def test_concurrent_lease_takers_get_one_winner(store: FetchStore) -> None:
    results = await asyncio.gather(*(store.acquire_lease("L", f"o{i}", 30) for i in range(8)))
    assert sum(results) == 1


async def test_account_state_roundtrip(store: FetchStore) -> None:
    assert await store.get_account_state("a1") is None
    state = AccountState(account_id="a1", status="error", error_kind="auth", failures=2)
    await store.put_account_state(state)
    await store.put_account_state(AccountState(account_id="a0"))
    got = await store.get_account_state("a1")
    assert got is not None and got.status == "error" and got.failures == 2
    assert [s.account_id for s in await store.list_account_states()] == ["a0", "a1"]
