"""Test harness: real servers, started here, never mocks of them.

- `mongo_url`: a MongoDB-compatible server. `POSTROOM_TEST_MONGODB_URL` wins (a real MongoDB);
  otherwise the mongoeco wire server (memory engine) is started for the session.
- `stack`: RabbitMQ, Postfix and Dovecot on ports of their own (tests/stack_env.py), started
  once per session through the same deploy/local/stack.sh that `make run` uses.
- `store`: an open store on each backend in turn (`store_url`); `sqlite_store`: on SQLite only,
  for tests about something other than the store adapters.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from postroom_shared.store import Store, StoreOptions, open_store
from tests.idp import IdentityProvider, idp_running
from tests.stack_env import REPO, StackEnv, session_stack_env, short_state_dir


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_tcp(port: int, timeout_s: float = 30.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


@pytest.fixture(scope="session")
def mongo_url() -> Iterator[str]:
    external = os.environ.get("POSTROOM_TEST_MONGODB_URL")
    if external:
        yield external
        return
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "deploy/local/mongoeco_server.py"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_tcp(port)
        yield f"mongodb://127.0.0.1:{port}/?directConnection=true"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def mongo_db_url(mongo_url: str) -> str:
    """`mongo_url` with a fresh database name, so tests never see each other's data."""
    base, _, query = mongo_url.partition("?")
    name = f"t_{uuid.uuid4().hex[:12]}"
    return f"{base.rstrip('/')}/{name}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
def stack() -> Iterator[StackEnv]:
    state = short_state_dir("pr-test-")
    env = session_stack_env(state)
    script = REPO / "deploy/local/stack.sh"
    subprocess.run([script, "start"], env=env.environ(), check=True)
    try:
        yield env
    finally:
        subprocess.run([script, "stop"], env=env.environ(), check=False)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityProvider]:
    """The local OAuth 2.0 identity provider (tests/idp.py) on the session stack's OAuth ports,
    where the stack's Dovecot validates XOAUTH2 tokens; it needs no stack itself, and Dovecot
    only needs it listening when a token is checked, so the two start in any order."""
    ports = session_stack_env(tmp_path_factory.mktemp("idp"))
    yield from idp_running(
        http_port=ports.oauth_port, https_port=ports.oauth_tls_port, state_dir=ports.state_dir
    )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db' / 'postroom.db'}"


@pytest.fixture(params=["sqlite", "mongodb"])
def store_url(request: pytest.FixtureRequest) -> str:
    """Each backend in turn: a fresh SQLite file, or a fresh MongoDB database."""
    name = "sqlite_url" if request.param == "sqlite" else "mongo_db_url"
    url: str = request.getfixturevalue(name)
    return url


@contextlib.asynccontextmanager
async def opened_store(url: str, options: StoreOptions | None = None) -> AsyncIterator[Store]:
    opened = await open_store(url, options)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    async with opened_store(store_url) as opened:
        yield opened


@pytest.fixture
async def sqlite_store(sqlite_url: str) -> AsyncIterator[Store]:
    async with opened_store(sqlite_url) as opened:
        yield opened
