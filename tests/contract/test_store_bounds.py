"""Every store call ends in bounded time: a hung MongoDB or a locked SQLite file becomes a
`StoreUnavailableError` (a TransientError: the caller retries later) instead of a stalled
service.

Real servers: a TCP listener that accepts and never answers, a mongoeco server frozen with
SIGSTOP in the middle of a session (connections stay open, nothing answers), and a second
SQLite connection holding the write lock.
"""

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from postroom_shared.errors import TransientError
from postroom_shared.models import ProcessingLogEntry
from postroom_shared.store import (
    StoreOptions,
    StoreUnavailableError,
    mongo,  # noqa: F401  # imported here, not in the timing
    open_store,
)
from postroom_shared.store.mongo.bounds import client_bounds
from tests.conftest import free_port, wait_tcp
from tests.stack_env import REPO

FAST = StoreOptions(
    timeout_s=1.5, blob_timeout_s=1.5, connect_timeout_s=0.5, server_selection_timeout_s=1.0
)
# What a failing call may take beyond its bound (a loaded 2-core machine), and the wait after
# which the test stops calling the store "bounded" at all.
SLACK_S = 3.0


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port whose listener accepts connections and never says a word."""
    stop = threading.Event()
    accepted: list[socket.socket] = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        listener.settimeout(0.05)

        def accept() -> None:
            while not stop.is_set():
                with contextlib.suppress(OSError):
                    accepted.append(listener.accept()[0])

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        try:
            yield int(listener.getsockname()[1])
        finally:
            stop.set()
            thread.join(timeout=5)
            for conn in accepted:
                conn.close()


@pytest.fixture
def own_mongoeco() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A mongoeco wire server of this test alone (it gets frozen)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "deploy/local/mongoeco_server.py"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_tcp(port)
        yield f"mongodb://127.0.0.1:{port}/bounds?directConnection=true", proc
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        proc.wait(timeout=10)


def _entry(n: int) -> ProcessingLogEntry:
    return ProcessingLogEntry(
        id=f"k{n}:converter", mail_key=f"k{n}", account_id="a", stage="converter",
        action="created", reason="r",
    )  # fmt: skip


async def test_mongodb_that_never_answers_fails_the_connect_in_bounded_time(
    silent_port: int,
) -> None:
    url = f"mongodb://127.0.0.1:{silent_port}/x?directConnection=true"
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError) as caught:
        await asyncio.wait_for(open_store(url, FAST), timeout=FAST.timeout_s + SLACK_S + 10)
    took = time.monotonic() - started
    print(f"connect to a silent server failed after {took:.2f} s: {caught.value}")
    assert isinstance(caught.value, TransientError)
    assert took < FAST.timeout_s + SLACK_S


async def test_frozen_mongodb_fails_each_call_in_bounded_time(
    own_mongoeco: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, server = own_mongoeco
    # Blob calls get their own, longer bound (a whole large mail moves in one call).
    options = FAST.model_copy(update={"blob_timeout_s": 3.0})
    store = await open_store(url, options)
    try:
        await store.put_log(_entry(1))  # the pool holds a live connection now
        os.kill(server.pid, signal.SIGSTOP)
        calls = [
            (store.list_log(), options.timeout_s),
            (store.get_item("it_1"), options.timeout_s),
            (store.put_blob(b"x" * 1000), options.blob_timeout_s),
        ]
        for call, bound in calls:
            started = time.monotonic()
            with pytest.raises(StoreUnavailableError):
                await asyncio.wait_for(call, timeout=bound + SLACK_S + 10)
            took = time.monotonic() - started
            print(f"call on a frozen server failed after {took:.2f} s (bound {bound} s)")
            assert bound - 0.2 < took < bound + SLACK_S
        os.kill(server.pid, signal.SIGCONT)
        await store.put_log(_entry(2))  # and it recovers once the server answers again
        assert len(await store.list_log()) == 2
    finally:
        os.kill(server.pid, signal.SIGCONT)
        await store.close()


async def test_locked_sqlite_fails_a_write_in_bounded_time(tmp_path: Path) -> None:
    path = tmp_path / "db" / "postroom.db"
    store = await open_store(f"sqlite:///{path}", StoreOptions(timeout_s=0.5))
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process in a long write
        started = time.monotonic()
        with pytest.raises(StoreUnavailableError):
            await asyncio.wait_for(store.put_log(_entry(1)), timeout=0.5 + SLACK_S + 30)
        took = time.monotonic() - started
        print(f"write on a locked SQLite file failed after {took:.2f} s")
        assert took < 0.5 + SLACK_S
        holder.execute("ROLLBACK")
        await store.put_log(_entry(1))
        assert len(await store.list_log()) == 1
    finally:
        holder.close()
        await store.close()


def test_client_bounds_come_from_options_unless_the_url_sets_them() -> None:
    options = StoreOptions(timeout_s=7, connect_timeout_s=2, server_selection_timeout_s=3)
    assert client_bounds("mongodb://db.example/postroom", options) == {
        "timeoutMS": 7000,
        "connectTimeoutMS": 2000,
        "serverSelectionTimeoutMS": 3000,
        "socketTimeoutMS": 7000,
    }
    url = "mongodb://db.example/postroom?timeoutMS=0&connecttimeoutms=900"
    assert client_bounds(url, options) == {
        "serverSelectionTimeoutMS": 3000,
        "socketTimeoutMS": 7000,
    }
