"""How many bytes of mail the whole fetcher process holds in memory: a semaphore counted in bytes.

Accounts fetch in parallel, and each batch holds the mail it downloaded whole until the broker
confirmed it. Without a process-wide cap, eight accounts with large mail multiply the memory
one account needs. A batch reserves what it will hold before downloading and gives it back
after publishing; when the budget is spent, further batches wait (first come, first served, so
a large batch is not starved by small ones). A reservation larger than the whole budget is cut
to the budget, so it can always proceed alone.
"""

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator

__all__ = ["ByteBudget"]


class ByteBudget:
    def __init__(self, total: int) -> None:
        if total <= 0:
            raise ValueError("a byte budget must be positive")
        self.total = total
        self._free = total
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def in_use(self) -> int:
        return self.total - self._free

    @contextlib.asynccontextmanager
    async def hold(self, nbytes: int) -> AsyncIterator[None]:
        """Reserve `nbytes` (at most the whole budget) for the duration of the block."""
        need = min(max(nbytes, 0), self.total)
        await self._acquire(need)
        try:
            yield
        finally:
            self._release(need)

    async def _acquire(self, need: int) -> None:
        if not self._waiting and need <= self._free:
            self._free -= need
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (need, granted)
        self._waiting.append(entry)
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self._release(need)  # granted in the same instant it was cancelled
            else:
                with contextlib.suppress(ValueError):  # _grant may have dropped it already
                    self._waiting.remove(entry)
                self._grant()  # it may have blocked smaller requests behind it
            raise

    def _release(self, need: int) -> None:
        self._free += need
        self._grant()

    def _grant(self) -> None:
        while self._waiting and self._waiting[0][0] <= self._free:
            need, granted = self._waiting.popleft()
            if granted.done():
                continue  # cancelled while waiting
            self._free -= need
            granted.set_result(None)
