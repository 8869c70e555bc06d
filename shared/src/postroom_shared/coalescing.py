"""Coalescing: calls that handlers make side by side become one call for all of them.

The converter and the replier handle up to their prefetch of messages at once
(`postroom_shared.consumer`); each store call costs, beyond its rows, a hop to the database
thread and a commit (SQLite) or a round trip (MongoDB), and each publish a confirm. Coalesced,
that cost is paid once per batch (group commit: the converter's `group_commit.py` for its item
writes, the replier's for its ledger calls): the first caller of an idle `Coalescer` starts a
flush that runs after the event loop had one more turn, so every handler that is ready in that
turn joins it; callers that come while a flush is running wait for it to end and then go
together in the next one. A mail on its own (a trickle) waits one turn of the loop, never a
timer. A batch holds at most `max_batch` calls.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence

__all__ = ["Coalescer", "each_alone_on_failure"]


class Coalescer[K, R]:
    """`await coalescer(key)` → `R`; `run(keys)` answers a whole batch, in order, with an
    exception in place of the result of a call that failed (the others are not affected)."""

    def __init__(
        self,
        run: Callable[[list[K]], Awaitable[Sequence[R | Exception]]],
        *,
        max_batch: int = 64,
    ) -> None:
        self._run = run
        self._max_batch = max_batch
        self._waiting: list[tuple[K, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.batches = 0  # how many batch calls ran, for tests and curiosity

    async def __call__(self, key: K) -> R:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[R] = loop.create_future()
        self._waiting.append((key, answer))
        if self._flusher is None:
            # its first step runs in the loop's next turn, after every handler ready now
            self._flusher = loop.create_task(self._flush())
        return await answer

    async def _flush(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                await self._answer(batch)
        finally:
            self._flusher = None
            for _, answer in self._waiting:  # only when the flush itself was cancelled
                answer.cancel()
            self._waiting.clear()

    async def _answer(self, batch: list[tuple[K, asyncio.Future[R]]]) -> None:
        self.batches += 1
        try:
            results: Sequence[R | Exception] = await self._run([key for key, _ in batch])
        except Exception as exc:
            results = [exc] * len(batch)
        except BaseException:
            for _, answer in batch:
                answer.cancel()
            raise
        for (_, answer), result in zip(batch, results, strict=True):
            if answer.done():  # its caller was cancelled; the batch went on without it
                continue
            if isinstance(result, Exception):
                answer.set_exception(result)
            else:
                answer.set_result(result)


def each_alone_on_failure[K, R](
    run: Callable[[list[K]], Awaitable[Sequence[R]]],
) -> Callable[[list[K]], Awaitable[Sequence[R | Exception]]]:
    """`run`, and when it fails for a whole batch, run again for each key alone (one after the
    other), so one key's failure (a bad row, a store error) is that caller's alone."""

    async def run_each_alone(keys: list[K]) -> Sequence[R | Exception]:
        try:
            return await run(keys)
        except Exception:
            if len(keys) == 1:
                raise
        results: list[R | Exception] = []
        for key in keys:
            try:
                [result] = await run([key])
            except Exception as alone:
                results.append(alone)
            else:
                results.append(result)
        return results

    return run_each_alone
