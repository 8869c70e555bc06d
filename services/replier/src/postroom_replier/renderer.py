"""Rendering admin-written templates off the event loop, in worker processes with a deadline.

The replier (every auto-reply and notification with a stored template) and the API (template
preview) share this. A render goes to an idle worker (`render_worker.py`, at most `workers` of
them, started on first use); the caller waits at most `timeout_s`. A worker that misses the
deadline is killed (CPython cannot stop a long operation inside a thread, a process can be
stopped) and the render fails with `TemplateBudgetError`; the next render starts a fresh worker.
The event loop never runs template code, so one hostile template cannot stall other requests.
"""

import asyncio
import contextlib
import json
import sys
from dataclasses import dataclass, field
from typing import Any

from postroom_replier.domain.templates import (
    Rendered,
    TemplateBudgetError,
    TemplateError,
)
from postroom_shared.logs import get_logger
from postroom_shared.models import NotificationTemplate

__all__ = ["TemplateRenderer"]

log = get_logger(__name__)
_START_TIMEOUT_S = 60.0  # importing Jinja on a loaded machine; not part of any render's deadline
_LINE_LIMIT = 16 * 1024 * 1024  # three parts of MAX_OUTPUT characters, JSON-escaped


@dataclass
class _Worker:
    process: asyncio.subprocess.Process

    async def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        await self.process.stdin.drain()
        line = await self.process.stdout.readline()
        if not line:
            raise EOFError("the render worker exited")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def kill(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    async def stop(self, *, kill: bool) -> None:
        if kill:
            self.kill()
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            self.kill()
            await self.process.wait()


@dataclass
class TemplateRenderer:
    """A small pool of render workers. `aclose()` stops them; a render still running then
    finishes first (its worker stops when it is released)."""

    workers: int = 2
    timeout_s: float = 2.0
    memory_mb: int = 512
    _idle: list[_Worker] = field(default_factory=list)
    _slots: asyncio.Semaphore | None = None
    _closing: bool = False

    async def render(self, template: NotificationTemplate, values: dict[str, Any]) -> Rendered:
        """`template` rendered with `values`; raises TemplateError (TemplateBudgetError when a
        limit, the memory cap or the deadline was hit)."""
        request = {
            "subject": template.subject,
            "text": template.text,
            "html": template.html,
            "values": values,
        }
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers)
        async with self._slots:
            worker = self._idle.pop() if self._idle else await self._start()
            try:
                reply = await asyncio.wait_for(worker.ask(request), self.timeout_s)
            except TimeoutError:
                await worker.stop(kill=True)
                raise TemplateBudgetError(
                    f"rendering took longer than {self.timeout_s:g} s (stopped)"
                ) from None
            except (OSError, EOFError, ValueError) as exc:
                await worker.stop(kill=True)
                raise TemplateError(f"the template renderer failed: {exc}") from exc
            except asyncio.CancelledError:
                worker.kill()  # mid-request: it cannot serve another render
                raise
            await self._release(worker)
        if "error" in reply:
            error = TemplateBudgetError if reply.get("budget") else TemplateError
            raise error(str(reply["error"]))
        return Rendered(subject=reply["subject"], text=reply["text"], html=reply["html"])

    async def _start(self) -> _Worker:
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "postroom_replier.render_worker",
                str(self.memory_mb),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=_LINE_LIMIT,
            )
        except OSError as exc:
            raise TemplateError(f"cannot start the template renderer: {exc}") from exc
        worker = _Worker(process)
        assert process.stdout is not None
        try:
            ready = await asyncio.wait_for(process.stdout.readline(), _START_TIMEOUT_S)
        except TimeoutError:
            ready = b""
        if not ready.startswith(b'{"ready"'):
            await worker.stop(kill=True)
            raise TemplateError("the template renderer did not start")
        log.debug("template render worker started", pid=process.pid)
        return worker

    async def _release(self, worker: _Worker) -> None:
        if self._closing:
            await worker.stop(kill=False)
        else:
            self._idle.append(worker)

    async def aclose(self) -> None:
        self._closing = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*(worker.stop(kill=False) for worker in idle))
