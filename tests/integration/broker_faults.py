"""Faults for the broker tests (not a test module): a store that fails on cue, and the test
RabbitMQ node frozen (SIGSTOP) or its bindings changed, always undone afterwards."""

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from postroom_shared.store import Store
from tests.stack_env import StackEnv

__all__ = ["FlakyStore", "broker_pid", "frozen_broker", "rabbitmqctl", "take", "wait_until"]


class FlakyStore:
    """A real store whose `method` raises `error` while `failing()` is true; every call of
    `method` is timed (time.monotonic) in `calls`."""

    def __init__(
        self, store: Store, method: str, error: Exception, failing: Callable[[], bool]
    ) -> None:
        self._store = store
        self._method = method
        self._error = error
        self._failing = failing
        self.calls: list[float] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if name != self._method:
            return attr

        async def timed(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(time.monotonic())
            if self._failing():
                raise self._error
            return await attr(*args, **kwargs)

        return timed

    def as_store(self) -> Store:
        return cast(Store, self)

    def gaps(self) -> list[float]:
        return [round(b - a, 2) for a, b in zip(self.calls, self.calls[1:], strict=False)]


async def take(
    channel: AbstractChannel, name: str, *, timeout_s: float = 0.0
) -> list[AbstractIncomingMessage]:
    """Every message of queue `name`, taken off it (acked); waits up to `timeout_s` for the
    first one. (A passive declare's count lags by seconds on quorum queues.)"""
    queue = await channel.declare_queue(name, passive=True)
    end = time.monotonic() + timeout_s
    taken: list[AbstractIncomingMessage] = []
    while True:
        message = await queue.get(fail=False)
        if message is not None:
            await message.ack()
            taken.append(message)
        elif taken or time.monotonic() > end:
            return taken
        else:
            await asyncio.sleep(0.1)


async def wait_until(probe: Callable[[], Any], timeout_s: float = 30.0, step_s: float = 0.1) -> Any:
    """Poll the async `probe()` until it returns something truthy (or time runs out)."""
    end = time.monotonic() + timeout_s
    while True:
        value = await probe()
        if value or time.monotonic() > end:
            return value
        await asyncio.sleep(step_s)


def rabbitmqctl(stack: StackEnv, *args: str) -> str:
    env_file = stack.state_dir / "stack" / "rabbitmq" / "env.sh"
    command = " ".join(["rabbitmqctl", "-q", *(f"'{arg}'" for arg in args)])
    return subprocess.run(
        ["bash", "-c", f". {env_file} && {command}"], capture_output=True, text=True, check=True
    ).stdout


def broker_pid(stack: StackEnv) -> int:
    return int((stack.state_dir / "stack" / "rabbitmq" / "rabbit.pid").read_text().strip())


@contextmanager
def frozen_broker(stack: StackEnv) -> Iterator[None]:
    """RabbitMQ stopped dead (SIGSTOP): connections stay open, nothing is answered or
    confirmed, like a broker stuck on a full disk or a paused VM. Always thawed on exit."""
    pid = broker_pid(stack)
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)
