"""One worker thread per account for the blocking mailbox libraries (imapclient, poplib).

A connection is not thread-safe and a hung server must only ever hold up its own account,
so each account gets a single-thread executor of its own instead of sharing the loop's
default pool (where a few IDLE waits or dead servers would starve everybody else).
"""

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["AccountThread"]


class AccountThread:
    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"fetch-{name}")

    async def __call__[T](self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def submit(self, fn: Callable[[], Any]) -> None:
        """Run `fn` after whatever is running now, without waiting (cleanup on cancel)."""
        self._executor.submit(fn)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=False)
