"""The fetcher's process-wide byte budget: waits when spent, first come first served, never
more than the whole, and a cancelled waiter gives nothing away."""

import asyncio

import pytest

from postroom_fetcher.sync.budget import ByteBudget


async def test_holds_wait_for_room_and_release_it() -> None:
    budget = ByteBudget(100)
    order: list[str] = []

    async def take(name: str, nbytes: int, hold_s: float) -> None:
        async with budget.hold(nbytes):
            order.append(f"+{name}")
            assert budget.in_use <= budget.total
            await asyncio.sleep(hold_s)
        order.append(f"-{name}")

    first = asyncio.create_task(take("a", 70, 0.05))
    await asyncio.sleep(0)
    second = asyncio.create_task(take("b", 50, 0))  # must wait for a
    await asyncio.gather(first, second)
    assert order == ["+a", "-a", "+b", "-b"]
    assert budget.in_use == 0


async def test_first_come_first_served_so_large_requests_are_not_starved() -> None:
    budget = ByteBudget(100)
    order: list[str] = []
    gate = asyncio.Event()

    async def take(name: str, nbytes: int) -> None:
        async with budget.hold(nbytes):
            order.append(name)
            await gate.wait()

    tasks = [asyncio.create_task(take("holder", 60))]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(take("large", 80)))  # waits: 40 free
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(take("small", 10)))  # would fit, but queues behind
    await asyncio.sleep(0.01)
    assert order == ["holder"]
    gate.set()
    await asyncio.gather(*tasks)
    assert order == ["holder", "large", "small"]


async def test_a_request_over_the_whole_budget_runs_alone() -> None:
    budget = ByteBudget(100)
    async with budget.hold(10_000):
        assert budget.in_use == 100
    assert budget.in_use == 0


async def test_a_cancelled_waiter_neither_leaks_nor_blocks() -> None:
    budget = ByteBudget(100)
    gate = asyncio.Event()

    async def take(nbytes: int) -> None:
        async with budget.hold(nbytes):
            await gate.wait()

    holder = asyncio.create_task(take(90))
    await asyncio.sleep(0)
    waiter = asyncio.create_task(take(50))
    await asyncio.sleep(0)
    behind = asyncio.create_task(take(5))  # fits, but queues behind the waiter
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await asyncio.sleep(0)
    assert budget.in_use == 95  # the small one got in once the waiter left the queue
    gate.set()
    await asyncio.gather(holder, behind)
    assert budget.in_use == 0
