"""The API app on a real store and broker, called in-process over ASGI (shared by API tests)."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx
from fastapi import APIRouter
from pydantic import SecretStr

from postroom_api.app import create_app
from postroom_api.components import components_of
from postroom_api.settings import ApiSettings

__all__ = ["ADMIN_KEY", "SECRET", "api_client", "bearer"]

ADMIN_KEY = "k" * 32
SECRET = "s" * 40


def bearer(key: str = ADMIN_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@asynccontextmanager
async def api_client(
    store_url: str,
    broker_url: str,
    *,
    wait_for_broker: bool = True,
    routers: Sequence[APIRouter] = (),
    **extra: object,
) -> AsyncIterator[httpx.AsyncClient]:
    """`routers`: extra routes for a test (e.g. to probe an auth dependency on its own)."""
    settings = ApiSettings(
        store_url=store_url,
        broker_url=broker_url,
        secret_key=SecretStr(SECRET),
        admin_api_key=SecretStr(ADMIN_KEY),
        **extra,  # type: ignore[arg-type]
    )
    app = create_app(settings)
    for router in routers:
        app.include_router(router)
    async with app.router.lifespan_context(app):
        # Wait for the background broker connection: cancelling aio-pika mid-connect at
        # teardown would leave its half-open connection's tasks to a closed event loop.
        if wait_for_broker:
            await asyncio.wait_for(components_of(app).broker_ready.wait(), timeout=10)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client
