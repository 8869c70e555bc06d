"""The API app on a real store and broker, driven over HTTP through httpx's ASGI transport
(shared by the tests/integration/test_api_*.py modules; not a test module itself)."""

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from postroom_api.app import create_app
from postroom_api.components import Components, components_of
from postroom_api.settings import ApiSettings
from postroom_converter.service import Converter
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store
from postroom_shared.topology import declare_topology
from tests import factories
from tests.stack_env import REPO, StackEnv

__all__ = [
    "KEY",
    "SECRET",
    "Api",
    "Served",
    "converter_for",
    "problems",
    "running_api",
    "served_api",
]

KEY = "a" * 32
SECRET = "s" * 40


@dataclass
class Api:
    client: httpx.AsyncClient
    app: FastAPI

    @property
    def components(self) -> Components:
        return components_of(self.app)

    @property
    def store(self) -> Store:
        return self.components.store

    @property
    def secrets(self) -> SecretBox:
        return SecretBox(SECRET)

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {KEY}", **kwargs.pop("headers", {})}
        response = await self.client.request(method, path, headers=headers, **kwargs)
        assert response.status_code != 500, (method, path, response.text)
        return response

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.call("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.call("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.call("PUT", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.call("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.call("DELETE", path, **kwargs)


@asynccontextmanager
async def running_api(stack: StackEnv, store_url: str, **extra: Any) -> AsyncIterator[Api]:
    settings = ApiSettings(
        store_url=store_url,
        broker_url=stack.amqp_url,
        secret_key=SecretStr(SECRET),
        admin_api_key=SecretStr(KEY),
        **extra,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        # Wait for the background broker connection: cancelling aio-pika mid-connect at
        # teardown would leave its half-open connection's tasks to a closed event loop.
        for _ in range(100):
            if await components_of(app).broker.ping(timeout=0.1):
                break
            await asyncio.sleep(0.1)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield Api(client=client, app=app)


def problems(response: httpx.Response) -> dict[str, str]:
    """A 422's errors as {"a.b": msg} (without the leading body/query)."""
    assert response.status_code == 422, response.text
    out: dict[str, str] = {}
    for error in response.json()["detail"]:
        loc = [str(part) for part in error["loc"]]
        if loc and loc[0] in ("body", "query", "path"):
            loc = loc[1:]
        out[".".join(loc)] = error["msg"]
    return out


async def converter_for(running: Api) -> Converter:
    """A converter on the running API's store and broker, with account acc1 stored: tests fill
    the store through the real conversion path rather than by writing items themselves."""
    await running.store.put_account(factories.account())
    broker = running.components.broker
    await declare_topology(broker)
    return Converter(store=running.store, broker=broker, signer=MessageIdSigner(SECRET, ""))


@dataclass
class Served:
    """`postroom-api` running under uvicorn in a process of its own."""

    url: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def memory_kb(self) -> tuple[int, int]:
        """(resident now, peak resident) of the API process, in KiB."""
        fields = dict(
            line.split(":", 1)
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines()
        )
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


@contextmanager
def served_api(stack: StackEnv, store_url: str, tmp_path: Path, **env: str) -> Iterator[Served]:
    """The real `postroom-api` (uvicorn) on the session stack's broker, with KEY as the admin
    key and SECRET as the secret key; `env` adds POSTROOM_* variables."""
    port = stack.base + 384
    values = dict(
        os.environ,
        POSTROOM_STORE_URL=store_url,
        POSTROOM_BROKER_URL=stack.amqp_url,
        POSTROOM_SECRET_KEY=SECRET,
        POSTROOM_ADMIN_API_KEY=KEY,
        POSTROOM_API_PORT=str(port),
        POSTROOM_LOG_LEVEL="WARNING",
        **env,
    )
    log = tmp_path / "api.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(REPO / ".venv/bin/postroom-api")], env=values, stdout=out, stderr=subprocess.STDOUT
        )
    served = Served(url=f"http://127.0.0.1:{port}", port=port, proc=proc, log=log)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                ready = httpx.get(f"{served.url}/readyz", params={"services": "false"}, timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("postroom-api did not start:\n" + log.read_text())
            time.sleep(0.2)
        yield served
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
