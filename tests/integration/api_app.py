"""The API app on a real store and broker, called in-process over ASGI (shared by API tests)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from pydantic import SecretStr

from postroom_api.app import create_app
from postroom_api.settings import ApiSettings

__all__ = ["ADMIN_KEY", "SECRET", "api_client", "bearer"]

ADMIN_KEY = "k" * 32
SECRET = "s" * 40


def bearer(key: str = ADMIN_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@asynccontextmanager
async def api_client(
    store_url: str, broker_url: str, *, wait_for_broker: bool = True, **extra: object
) -> AsyncIterator[httpx.AsyncClient]:
    settings = ApiSettings(
        store_url=store_url,
        broker_url=broker_url,
        secret_key=SecretStr(SECRET),
        admin_api_key=SecretStr(ADMIN_KEY),
        **extra,  # type: ignore[arg-type]
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        # Wait for the background broker connection: cancelling aio-pika mid-connect at
        # teardown would leave its half-open connection's tasks to a closed event loop.
        for _ in range(100 if wait_for_broker else 0):
            if await app.state.broker.ping(timeout=0.1):
                break
            await asyncio.sleep(0.1)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client
