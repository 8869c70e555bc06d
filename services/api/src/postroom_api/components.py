"""The long-lived objects of one API process, built once when the app starts and closed when it
stops: the store, the broker connection, the secret box, the OAuth token source, the template
renderer, the built-in relay's settings, ...

Why one container: routes declare what they use (`deps.StoreDep`, `deps.TokensDep`, ...) and
get objects that exist for the whole life of the process. Nothing is made on a first request,
nothing reads the environment while a request waits, and a wrong setting (a secret key that
cannot make a SecretBox, a relay variable that does not parse) stops the start instead of
failing the first request that needs it. Building opens no network connection: the broker
connects in the background (`broker_ready`), the broker admin and the render workers on first
use.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from faststream.rabbit import RabbitBroker
from starlette.applications import Starlette

from postroom_api.announcing_store import announcing
from postroom_api.settings import ApiSettings
from postroom_replier.ops import RelaySettings, TemplateRenderer
from postroom_shared.apikeys import hash_key
from postroom_shared.broker_admin import BrokerAdmin
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.metrics import SystemGauges
from postroom_shared.oauth import OAuthEndpoints, TokenSource
from postroom_shared.retry import RetryPolicy
from postroom_shared.runtime import make_broker
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store, open_store

__all__ = ["Components", "components_of", "open_components"]


@dataclass(frozen=True)
class Components:
    settings: ApiSettings
    store: Store
    broker: RabbitBroker
    broker_ready: asyncio.Event
    """Set once the broker is connected and the topology declared; until then /readyz reports
    the broker as unreachable and pushed mail is refused."""
    broker_admin: BrokerAdmin
    """One kept connection for queue depths (/metrics) and dead letters, opened on first use."""
    gauges: SystemGauges
    secrets: SecretBox
    oauth_endpoints: OAuthEndpoints
    tokens: TokenSource
    """Access tokens for connection tests and test mail; cached until shortly before expiry,
    so a route that changes an owner's OAuth settings calls `tokens.forget(owner)`."""
    relay: RelaySettings
    """The built-in relay (POSTROOM_SMTP_*, the variables the replier reads)."""
    renderer: TemplateRenderer
    """Template previews render in these worker processes, started on the first preview."""
    admin_key_hash: str
    """POSTROOM_ADMIN_API_KEY's hash: a presented key is compared with it in constant time."""
    signer: MessageIdSigner
    """Signs the Message-ID of a team reply added through the API (the owner's write path)."""


@asynccontextmanager
async def open_components(settings: ApiSettings) -> AsyncIterator[Components]:
    """The components of an API process; everything is stopped and closed on exit."""
    relay = RelaySettings()
    async with AsyncExitStack() as stack:
        raw_store = await open_store(settings.store_url, settings.store_options())
        stack.push_async_callback(raw_store.close)
        broker = make_broker(settings, prefetch=1)
        stack.push_async_callback(broker.stop)
        broker_ready = asyncio.Event()
        # Configuration writes are announced so that services see them at once.
        store = announcing(raw_store, broker, broker_ready)
        secrets = SecretBox.from_settings(settings)
        endpoints = OAuthEndpoints.from_settings(settings)
        tokens = TokenSource(store, secrets, endpoints)
        stack.callback(tokens.close)
        renderer = TemplateRenderer(
            workers=settings.template_workers,
            timeout_s=settings.template_render_timeout_s,
            memory_mb=settings.template_memory_mb,
        )
        stack.push_async_callback(renderer.aclose)
        admin = BrokerAdmin(settings.broker_url)
        stack.push_async_callback(admin.close)
        yield Components(
            settings=settings,
            store=store,
            broker=broker,
            broker_ready=broker_ready,
            broker_admin=admin,
            gauges=SystemGauges(
                store,
                admin,
                policy=RetryPolicy.from_settings(settings),
                cache_s=settings.metrics_cache_s,
            ),
            secrets=secrets,
            oauth_endpoints=endpoints,
            tokens=tokens,
            relay=relay,
            renderer=renderer,
            admin_key_hash=hash_key(settings.admin_api_key.get_secret_value()),
            signer=MessageIdSigner.checking(settings.secret_key.get_secret_value()),
        )


def components_of(app: Starlette) -> Components:
    """The running app's components (set by its lifespan)."""
    components: Components = app.state.components
    return components
