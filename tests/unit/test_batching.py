"""The coalescing the converter and the replier share (`postroom_shared.coalescing.Coalescer`):
calls made side by side become one batch call; calls that come while a batch runs form the
next; a lone call waits no timer; a failure of one call, or of the whole batch, reaches only
the callers it concerns."""

import asyncio
from collections.abc import Sequence

import pytest

from postroom_shared.coalescing import Coalescer


class Doubler:
    """A batch call that doubles every key, records its batches, and fails odd keys when
    asked; `gate` holds a batch until the test opens it."""

    def __init__(self, *, fail_odd: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.fail_odd = fail_odd
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self, keys: list[int]) -> list[int | Exception]:
        self.batches.append(keys)
        await self.gate.wait()
        return [ValueError(k) if self.fail_odd and k % 2 else 2 * k for k in keys]


async def test_calls_made_side_by_side_are_one_batch() -> None:
    run = Doubler()
    coalescer = Coalescer(run)
    assert await asyncio.gather(*(coalescer(k) for k in range(8))) == [2 * k for k in range(8)]
    assert run.batches == [list(range(8))]


async def test_calls_during_a_batch_form_the_next_one() -> None:
    run = Doubler()
    coalescer = Coalescer(run)
    run.gate.clear()
    first = asyncio.ensure_future(coalescer(1))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert run.batches == [[1]]  # started at once, alone
    later = [asyncio.ensure_future(coalescer(k)) for k in (2, 3, 4)]
    await asyncio.sleep(0.01)
    assert run.batches == [[1]]  # waiting for the batch in flight
    run.gate.set()
    assert await asyncio.gather(first, *later) == [2, 4, 6, 8]
    assert run.batches == [[1], [2, 3, 4]]


async def test_a_lone_call_does_not_wait_for_company() -> None:
    coalescer = Coalescer(Doubler())
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await coalescer(5) == 10
    assert loop.time() - started < 0.01


async def test_batches_are_capped() -> None:
    run = Doubler()
    coalescer = Coalescer(run, max_batch=3)
    assert await asyncio.gather(*(coalescer(k) for k in range(7))) == [2 * k for k in range(7)]
    assert run.batches == [[0, 1, 2], [3, 4, 5], [6]]


async def test_a_failing_call_fails_only_its_caller() -> None:
    coalescer = Coalescer(Doubler(fail_odd=True))
    results = await asyncio.gather(*(coalescer(k) for k in range(4)), return_exceptions=True)
    assert results[0] == 0 and results[2] == 4
    assert isinstance(results[1], ValueError) and isinstance(results[3], ValueError)


async def test_a_failing_batch_fails_its_callers_and_the_next_batch_runs() -> None:
    calls = 0

    async def broken_once(keys: list[int]) -> Sequence[int | Exception]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("store gone")
        return keys

    coalescer = Coalescer(broken_once)
    with pytest.raises(RuntimeError):
        await coalescer(1)
    assert await coalescer(2) == 2


async def test_a_cancelled_caller_leaves_the_batch_to_the_others() -> None:
    run = Doubler()
    coalescer = Coalescer(run)
    run.gate.clear()
    leaving = asyncio.ensure_future(coalescer(1))
    staying = asyncio.ensure_future(coalescer(2))
    await asyncio.sleep(0.01)
    leaving.cancel()
    run.gate.set()
    assert await staying == 4
    assert leaving.cancelled()
