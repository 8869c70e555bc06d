"""The FastAPI application factory; the store and a broker connection live on `app.state`."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from faststream.rabbit import RabbitBroker

from postroom_api.auth import digest, document_auth_responses
from postroom_api.door import RequestDoor
from postroom_api.routes import (
    accounts,
    asyncapi,
    deadletters,
    health,
    ingest,
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
from postroom_shared.broker_admin import BrokerAdmin
from postroom_shared.health import instance_name
from postroom_shared.metrics import SystemGauges
from postroom_shared.retention import RetentionPolicy, retention_loop
from postroom_shared.retry import RetryPolicy
from postroom_shared.runtime import connect_with_retry, make_broker
from postroom_shared.store import open_store
from postroom_shared.topology import declare_topology

__all__ = ["create_app"]

DESCRIPTION = """Configure mailboxes, read items created from mail, push mail, watch health.

Every route under `/v1` needs `Authorization: Bearer <API key>`: 401 when the key is missing,
unknown or revoked, 403 when it lacks the scope (`admin`: everything; `read`: GET only;
`deliver`: push mail). `/healthz`, `/readyz`, `/metrics` and the API documents are public.
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
        app.state.store = await open_store(settings.store_url, settings.store_options())
        app.state.broker = make_broker(settings, prefetch=1)
        app.state.broker_ready = asyncio.Event()
        # one kept connection for queue depths (/metrics) and dead letters, opened on first use
        app.state.broker_admin = BrokerAdmin(settings.broker_url)
        app.state.system_gauges = SystemGauges(
            app.state.store,
            app.state.broker_admin,
            policy=RetryPolicy.from_settings(settings),
            cache_s=settings.metrics_cache_s,
        )
        # /readyz reports the broker as unreachable, and pushed mail is refused, until this
        # succeeds.
        connecting = asyncio.create_task(_connect(app.state.broker, app.state.broker_ready))
        # Retention cleanup (postroom_shared.retention): here because the API always runs and
        # is off the mail path; a store lease keeps it to one replica.
        background = [connecting]
        if settings.retention_interval_s > 0:
            policy = RetentionPolicy.from_settings(settings)
            cleanup = retention_loop(
                app.state.store,
                policy,
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
            await app.state.broker.stop()
            await app.state.broker_admin.close()
            tokens = getattr(app.state, "token_source", None)  # made on first OAuth use
            if tokens is not None:
                tokens.close()
            renderer = getattr(app.state, "template_renderer", None)  # made on first preview
            if renderer is not None:
                await renderer.aclose()
            await app.state.store.close()

    app = FastAPI(
        title="Postroom config API",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    document_auth_responses(app)
    # the API key and the body size are checked from the headers, before any body is read
    app.add_middleware(RequestDoor)
    app.state.admin_key_digest = digest(settings.admin_api_key.get_secret_value())
    app.state.amqp_url = settings.broker_url
    app.state.inline_max_bytes = settings.inline_max_bytes
    app.state.settings = settings
    app.include_router(health.router)
    app.include_router(asyncapi.router)
    app.include_router(keys.router)
    app.include_router(ingest.router)
    app.include_router(items.router)
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
    app.include_router(oauth.router)
    app.include_router(oauth.callback_router)
    return app
