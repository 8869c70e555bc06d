"""The FastAPI application factory; the store and a broker connection live on `app.state`."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from postroom_api.auth import digest
from postroom_api.routes import (
    accounts,
    health,
    items,
    log,
    oauth,
    people,
    projects,
    quarantine,
    smtp,
    templates,
    workflows,
)
from postroom_api.settings import ApiSettings
from postroom_shared.runtime import connect_with_retry, make_broker
from postroom_shared.store import open_store

__all__ = ["create_app"]


def create_app(settings: ApiSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.store = await open_store(settings.store_url)
        app.state.broker = make_broker(settings, prefetch=1)
        # /healthz reports the broker as unreachable until this succeeds.
        connecting = asyncio.create_task(
            connect_with_retry(app.state.broker, deadline_s=float("inf"))
        )
        try:
            yield
        finally:
            connecting.cancel()
            await asyncio.gather(connecting, return_exceptions=True)
            await app.state.broker.stop()
            await app.state.store.close()

    app = FastAPI(
        title="Postroom config API",
        version="0.1.0",
        description="Configure mailboxes, read items created from mail, watch health.",
        lifespan=lifespan,
    )
    app.state.admin_key_digest = digest(settings.admin_api_key.get_secret_value())
    app.state.settings = settings
    app.include_router(health.router)
    app.include_router(items.router)
    app.include_router(accounts.router)
    app.include_router(smtp.router)
    app.include_router(templates.router)
    app.include_router(workflows.router)
    app.include_router(people.router)
    app.include_router(projects.router)
    app.include_router(log.router)
    app.include_router(quarantine.router)
    app.include_router(oauth.router)
    return app
