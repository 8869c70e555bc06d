"""Group commit in the replier (`group_commit.py`): the ledger calls concurrent handlers make at
the same step become one store call, each caller gets its own answer, a lone call does not
wait, and one call's failure stays its own."""

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast

import pytest

from postroom_replier.group_commit import GroupCommit
from postroom_replier.store import ReplierStore
from postroom_shared.coalescing import Coalescer, each_alone_on_failure
from postroom_shared.models import LedgerEntry, SendRecord, utcnow
from postroom_shared.store import Store
from postroom_shared.store.ports.replies import FinishedSend


class _Calls:
    """A plural call that records each batch it gets; "bad" items fail the call."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    async def __call__(self, items: list[str]) -> list[str]:
        self.batches.append(list(items))
        await asyncio.sleep(0)
        if "bad" in items:
            raise ValueError("bad item")
        return [item.upper() for item in items]


async def test_calls_of_one_moment_share_one_plural_call_in_order() -> None:
    calls = _Calls()
    batcher = Coalescer(each_alone_on_failure(calls))
    answers = await asyncio.gather(*(batcher(item) for item in ["a", "b", "c"]))
    assert answers == ["A", "B", "C"]
    assert calls.batches == [["a", "b", "c"]] and batcher.batches == 1


async def test_a_lone_call_runs_on_the_next_turn() -> None:
    calls = _Calls()
    batcher = Coalescer(each_alone_on_failure(calls))
    assert await asyncio.wait_for(batcher("a"), timeout=0.05) == "A"
    assert await batcher("b") == "B"  # later calls are batches of their own
    assert calls.batches == [["a"], ["b"]]


async def test_a_failing_call_fails_alone() -> None:
    calls = _Calls()
    batcher = Coalescer(each_alone_on_failure(calls))
    answers = await asyncio.gather(*(batcher(i) for i in ["a", "bad", "c"]), return_exceptions=True)
    assert answers[0] == "A" and answers[2] == "C"
    assert isinstance(answers[1], ValueError)
    assert calls.batches == [["a", "bad", "c"], ["a"], ["bad"], ["c"]]


async def test_a_full_batch_goes_at_once() -> None:
    calls = _Calls()
    batcher = Coalescer(each_alone_on_failure(calls), max_batch=2)
    assert await asyncio.gather(*(batcher(i) for i in "abcde")) == list("ABCDE")
    assert calls.batches == [["a", "b"], ["c", "d"], ["e"]]


class _Counting:
    """The real store, counting the plural ledger calls."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.plural: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def claim_ledgers(self, entries: Sequence[LedgerEntry], **kw: Any) -> Any:
        self.plural.append(len(entries))
        return await self._store.claim_ledgers(entries, **kw)

    async def finish_sends(self, sends: Sequence[FinishedSend]) -> None:
        self.plural.append(len(sends))
        await self._store.finish_sends(sends)


@pytest.mark.parametrize("handlers", [8])
async def test_concurrent_handlers_claim_and_finish_in_one_store_call_each(
    store: Store, handlers: int
) -> None:
    counting = _Counting(store)
    ledger = GroupCommit(cast(ReplierStore, counting))
    entries = [
        LedgerEntry(
            item_id=f"it_{n % 4}", reason="auto_reply:k", recipient="a@x.test", message_id="<m>"
        )
        for n in range(handlers)
    ]  # every item twice: concurrent copies of one event
    stale = utcnow() - timedelta(minutes=1)
    claims = await asyncio.gather(*(ledger.claim_ledger(e, stale_before=stale) for e in entries))
    assert claims == ["claimed"] * 4 + ["busy"] * 4  # exactly one claim per item
    record = SendRecord(recipient="a@x.test", item_id="it_0", fingerprint="f")
    await asyncio.gather(*(ledger.finish_send(e, record, None) for e in entries[:4]))
    assert counting.plural == [handlers, 4]
    done = await store.claim_ledgers(entries[:4], stale_before=stale)
    assert done == ["done"] * 4
