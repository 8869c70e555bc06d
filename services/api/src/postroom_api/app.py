"""The FastAPI application factory: the routers, the front door, and the lifespan that builds
the app's components (`components.py`) and runs its background tasks."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from faststream.rabbit import RabbitBroker

from postroom_api.auth import document_auth_responses
from postroom_api.components import open_components
from postroom_api.console.mount import install as install_console
from postroom_api.door import RequestDoor
from postroom_api.routes import (
    accounts,
    activity,
    asyncapi,
    deadletters,
    health,
    ingest,
    item_work,
    items,
    keys,
    mailbox,
    oauth,
    people,
    processing_log,
    projects,
    quarantine,
    smtp,
    templates,
    workflows,
)
from postroom_api.settings import ApiSettings
from postroom_shared.health import instance_name
from postroom_shared.retention import RetentionPolicy, retention_loop
from postroom_shared.runtime import connect_with_retry
from postroom_shared.topology import declare_topology

__all__ = ["create_app"]

DESCRIPTION = """Configure mailboxes, read items created from mail, push mail, watch health.

Every route under `/v1` needs `Authorization: Bearer <API key>`: 401 when the key is missing,
unknown or revoked, 403 when it lacks the scope (`admin`: everything; `read`: GET only;
`deliver`: push mail; `agent`: read and work items). `/healthz`, `/readyz`, `/metrics` and the
API documents are public.
Events: `/asyncapi` (HTML) and `/asyncapi.json`."""


async def _connect(broker: RabbitBroker, ready: asyncio.Event) -> None:
    await connect_with_retry(broker, deadline_s=float("inf"))
    # Pushed mail is published by the API: its exchange and the converter's queue must exist
    # even before any other service ever ran.
    await declare_topology(broker)
    ready.set()


def create_app(settings: ApiSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_components(settings) as components:
            app.state.components = components
            connecting = asyncio.create_task(_connect(components.broker, components.broker_ready))
            # Retention cleanup (postroom_shared.retention): here because the API always runs
            # and is off the mail path; a store lease keeps it to one replica.
            background = [connecting]
            if settings.retention_interval_s > 0:
                cleanup = retention_loop(
                    components.store,
                    RetentionPolicy.from_settings(settings),
                    interval_s=settings.retention_interval_s,
                    owner=instance_name(),
                )
                background.append(asyncio.create_task(cleanup))
            try:
                yield
            finally:
                for task in background:
                    task.cancel()
                await asyncio.gather(*background, return_exceptions=True)

    app = FastAPI(
        title="Postroom config API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    document_auth_responses(app)
    # the API key and the body size are checked from the headers, before any body is read
    app.add_middleware(RequestDoor)
    app.include_router(health.router)
    app.include_router(asyncapi.router)
    app.include_router(keys.router)
    app.include_router(ingest.router)
    app.include_router(items.router)
    app.include_router(item_work.router)
    app.include_router(accounts.router)
    app.include_router(mailbox.router)
    app.include_router(smtp.router)
    app.include_router(templates.router)
    app.include_router(workflows.router)
    app.include_router(people.router)
    app.include_router(projects.router)
    app.include_router(processing_log.router)
    app.include_router(quarantine.router)
    app.include_router(deadletters.router)
    app.include_router(activity.router)
    app.include_router(oauth.router)
    app.include_router(oauth.callback_router)
    install_console(app)  # the web console under /ui
    return app
