"""A per-mail CPU budget: mail is analysed in worker processes that a deadline can stop.

Why: the analysis (`analysis.py`: parsing, classifying, reading bounces) runs on content anyone
can send. Its patterns are linear, but one missed super-linear path must not freeze the
converter: on the event loop it would stall every account, starve the broker heartbeat and come
back with every redelivery. Here the event loop only hands the raw bytes to a worker and waits
without blocking; a worker that has not answered within `budget_s` is killed and replaced, and
the call raises `TooSlow` (the converter quarantines the mail with reason `too_slow`).

A worker is a new program (`worker.py`, started by `worker_process.py` like `python -m
postroom_converter.worker`: never a `fork` of the service and its threads), ready once it has
imported the analysis (without pydantic: ~0.15 s of CPU); the budget counts from the moment it
has the mail. A request is the raw bytes, the answer a pickled `Analysis` (no Message tree, the
classification as a plain tuple), each in one write to a pipe widened to hold it, so the hop
costs little per mail (`make bench-converter`).

    Analyser(signer, budget_s=10, workers=2)   the converter service: a pool, async
    shared_analyser(signer)                    API / CLI reprocessing: one per process
    analyse_once(raw, ...)                     `postroom parse`: one worker, no event loop
"""

import asyncio
import weakref
from collections import deque
from collections.abc import Callable

from postroom_converter.analysis import Analysis
from postroom_converter.domain.limits import MailTooLarge, check_size
from postroom_converter.settings import AnalysisSettings
from postroom_converter.worker_process import (
    WORKER_MODULE,
    WorkerProcess,
    options,
)
from postroom_shared.errors import PermanentError
from postroom_shared.mail.msgid import MessageIdSigner

__all__ = [
    "DEFAULT_BUDGET_S",
    "Analyser",
    "TooSlow",
    "analyse_once",
    "shared_analyser",
]

DEFAULT_BUDGET_S: float = AnalysisSettings.model_fields["parse_budget_s"].default
_FRAMING = 10  # a request's length and option bytes


class TooSlow(PermanentError):
    """The analysis of one mail did not finish within the budget; `str()` starts `too_slow`."""

    def __init__(self, budget_s: float) -> None:
        super().__init__(
            f"too_slow: analysing the mail took longer than the budget of {budget_s:g} s"
            " (POSTROOM_PARSE_BUDGET_S)"
        )


def _stop_all(workers: list[WorkerProcess]) -> None:
    while workers:
        workers.pop().stop()


def _stop_started(starting: "asyncio.Future[WorkerProcess]") -> None:
    """A worker whose start outlived the request that wanted it."""
    if starting.exception() is None:
        starting.result().stop()


def _too_large(raw: bytes) -> Analysis | None:
    # Refused here, so a mail over the cap never travels to a worker.
    try:
        check_size(raw)
    except MailTooLarge as exc:
        return Analysis(mail=None, rejected=str(exc))
    return None


class Analyser:
    """A pool of up to `workers` analysis processes, started on first use; each mail gets
    `budget_s` seconds of wall-clock time once a worker has it (waiting for a free worker
    does not count)."""

    def __init__(
        self,
        signer: MessageIdSigner | None,
        *,
        budget_s: float = DEFAULT_BUDGET_S,
        workers: int = 1,
        worker_module: str = WORKER_MODULE,
    ) -> None:
        self._idle: list[WorkerProcess] = []
        self._started = 0  # workers alive or being started
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False
        if budget_s <= 0 or workers < 1:
            raise ValueError("budget_s must be > 0 and workers >= 1")
        self.signer = signer
        self.budget_s = budget_s
        self.workers = workers
        self.worker_module = worker_module  # another program speaking the same frames (tests)
        # Stops the idle workers on close(), when the analyser is dropped, or at exit. It holds
        # the list, not the analyser: dropped in a reference cycle, the workers' own finalizers
        # could run first and leave running processes behind.
        self._stop_idle = weakref.finalize(self, _stop_all, self._idle)

    async def analyse(
        self, raw: bytes, *, attachment_data: bool = True, every_bounce: bool = False
    ) -> Analysis:
        """The analysis of `raw`; raises `TooSlow` over the budget, `AnalysisFailed` when the
        worker raised or died."""
        refused = _too_large(raw)
        if refused is not None:
            return refused
        worker = await self._acquire()
        try:
            result = await self._ask(worker, options(attachment_data, every_bounce), raw)
        except BaseException:
            self._discard(worker)  # over the deadline, dead, or we were cancelled: unknown state
            raise
        self._release(worker)
        return result

    def close(self) -> None:
        """Stop the idle workers now and the busy ones when they finish; no new mail after."""
        self._closed = True
        self._started -= len(self._idle)
        self._stop_idle()

    async def _ask(self, worker: WorkerProcess, options: bytes, raw: bytes) -> Analysis:
        loop = asyncio.get_running_loop()
        readable: asyncio.Future[None] = loop.create_future()

        def ready() -> None:
            if not readable.done():
                readable.set_result(None)

        fd = worker.answers.fileno()
        loop.add_reader(fd, ready)
        # A frame larger than the pipe would block until the worker has read the first part.
        large = len(raw) + _FRAMING > worker.pipe_bytes
        try:
            if large:
                await _off_loop(worker.send, options, raw)
            else:
                worker.send(options, raw)
            async with asyncio.timeout(self.budget_s):
                await readable
        except TimeoutError:
            raise TooSlow(self.budget_s) from None
        finally:
            loop.remove_reader(fd)
        return await _off_loop(worker.answer) if large else worker.answer()

    async def _acquire(self) -> WorkerProcess:
        if self._closed:
            raise RuntimeError("the analyser is closed")
        while True:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                self._discard(worker)
            if self._started < self.workers:
                return await self._start()
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # we were woken, then cancelled: pass it on
                waiter.cancel()
                raise

    async def _start(self) -> WorkerProcess:
        self._started += 1
        # Starting a worker blocks until it has imported the analysis: not on the loop.
        starting = asyncio.get_running_loop().run_in_executor(
            None, WorkerProcess, self.signer, self.worker_module
        )
        try:
            return await asyncio.shield(starting)
        except BaseException:
            self._started -= 1
            self._wake()
            starting.add_done_callback(_stop_started)
            raise

    def _release(self, worker: WorkerProcess) -> None:
        if self._closed:
            self._discard(worker)
            return
        self._idle.append(worker)
        self._wake()

    def _discard(self, worker: WorkerProcess) -> None:
        worker.kill()  # a replacement is started by the next request
        self._started -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done() and not waiter.get_loop().is_closed():
                waiter.set_result(None)
                return


async def _off_loop[T](call: Callable[..., T], *args: object) -> T:
    """`call(*args)` in a thread; if we are cancelled meanwhile, its outcome is dropped."""
    running = asyncio.get_running_loop().run_in_executor(None, call, *args)
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        running.add_done_callback(lambda done: done.exception())
        raise


_SHARED: dict[tuple[MessageIdSigner | None, float], Analyser] = {}


def shared_analyser(signer: MessageIdSigner | None) -> Analyser:
    """One single-worker analyser per process and signer, for converters made on the fly
    (reprocessing from the API or the CLI). Its budget is POSTROOM_PARSE_BUDGET_S, read when
    it is first needed, like the converter service reads it."""
    budget_s = AnalysisSettings().parse_budget_s
    key = (signer, budget_s)
    if key not in _SHARED:
        _SHARED[key] = Analyser(signer, budget_s=budget_s, workers=1)
    return _SHARED[key]


def analyse_once(
    raw: bytes,
    *,
    signer: MessageIdSigner | None,
    budget_s: float = DEFAULT_BUDGET_S,
    attachment_data: bool = False,
    every_bounce: bool = False,
    worker_module: str = WORKER_MODULE,
) -> Analysis:
    """`raw` analysed in a fresh worker under the budget, without an event loop."""
    refused = _too_large(raw)
    if refused is not None:
        return refused
    worker = WorkerProcess(signer, worker_module)
    try:
        worker.send(options(attachment_data, every_bounce), raw)
        if not worker.wait(budget_s):
            raise TooSlow(budget_s)
        return worker.answer()
    finally:
        worker.stop()
