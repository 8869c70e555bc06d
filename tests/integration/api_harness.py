"""The API app on a real store and broker, driven over HTTP through httpx's ASGI transport
(shared by the tests/integration/test_api_*.py modules; not a test module itself)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from postroom_api.app import create_app
from postroom_api.settings import ApiSettings
from postroom_converter.service import Converter
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store
from postroom_shared.topology import declare_topology
from tests import factories
from tests.stack_env import StackEnv

__all__ = ["KEY", "SECRET", "Api", "converter_for", "problems", "running_api"]

KEY = "a" * 32
SECRET = "s" * 40


@dataclass
class Api:
    client: httpx.AsyncClient
    app: FastAPI

    @property
    def store(self) -> Store:
        store: Store = self.app.state.store
        return store

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
            if await app.state.broker.ping(timeout=0.1):
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
    broker = running.app.state.broker
    await declare_topology(broker)
    return Converter(store=running.store, broker=broker, signer=MessageIdSigner(SECRET, ""))
