"""What a route may ask for, as `Annotated` dependency aliases over the app's components
(`components.Components`, built once in the lifespan): a route writes `store: StoreDep` and
gets the process's store, as FastAPI's full-stack template does with its session and user.

Every alias's dependency is an `async def`, so FastAPI calls it on the event loop instead of
handing it to its thread pool (a sync dependency costs a thread hop per request).
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from faststream.rabbit import RabbitBroker

from postroom_api.components import Components, components_of
from postroom_api.settings import ApiSettings
from postroom_api.store import ApiStore
from postroom_replier.ops import RelaySettings, TemplateRenderer
from postroom_shared.broker_admin import BrokerAdmin
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.metrics import SystemGauges
from postroom_shared.oauth import OAuthEndpoints, TokenSource
from postroom_shared.secretbox import SecretBox

__all__ = [
    "BrokerAdminDep",
    "BrokerDep",
    "BrokerReadyDep",
    "ComponentsDep",
    "GaugesDep",
    "OAuthEndpointsDep",
    "RelayDep",
    "RendererDep",
    "SecretsDep",
    "SettingsDep",
    "SignerDep",
    "StoreDep",
    "TokensDep",
]


def _part[T](pick: Callable[[Components], T]) -> Callable[[Request], Awaitable[T]]:
    """A dependency that answers one of the running app's components."""

    async def dependency(request: Request) -> T:
        return pick(components_of(request.app))

    return dependency


ComponentsDep = Annotated[Components, Depends(_part(lambda c: c))]
StoreDep = Annotated[ApiStore, Depends(_part(lambda c: c.store))]
BrokerDep = Annotated[RabbitBroker, Depends(_part(lambda c: c.broker))]
BrokerReadyDep = Annotated[asyncio.Event, Depends(_part(lambda c: c.broker_ready))]
BrokerAdminDep = Annotated[BrokerAdmin, Depends(_part(lambda c: c.broker_admin))]
GaugesDep = Annotated[SystemGauges, Depends(_part(lambda c: c.gauges))]
SettingsDep = Annotated[ApiSettings, Depends(_part(lambda c: c.settings))]
SecretsDep = Annotated[SecretBox, Depends(_part(lambda c: c.secrets))]
OAuthEndpointsDep = Annotated[OAuthEndpoints, Depends(_part(lambda c: c.oauth_endpoints))]
TokensDep = Annotated[TokenSource, Depends(_part(lambda c: c.tokens))]
RelayDep = Annotated[RelaySettings, Depends(_part(lambda c: c.relay))]
RendererDep = Annotated[TemplateRenderer, Depends(_part(lambda c: c.renderer))]
SignerDep = Annotated[MessageIdSigner, Depends(_part(lambda c: c.signer))]
