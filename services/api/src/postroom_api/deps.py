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
from postroom_replier.outbound import RelaySettings
from postroom_replier.renderer import TemplateRenderer
from postroom_shared.broker_admin import BrokerAdmin
from postroom_shared.metrics import SystemGauges
from postroom_shared.oauth import OAuthEndpoints, TokenSource
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store

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
    "StoreDep",
    "TokensDep",
    "broker_of",
    "settings_of",
    "store_of",
]


def _part[T](pick: Callable[[Components], T]) -> Callable[[Request], Awaitable[T]]:
    """A dependency that answers one of the running app's components."""

    async def dependency(request: Request) -> T:
        return pick(components_of(request.app))

    return dependency


ComponentsDep = Annotated[Components, Depends(_part(lambda c: c))]
StoreDep = Annotated[Store, Depends(_part(lambda c: c.store))]
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


# Only for the quarantine reprocess route, whose body still looks its objects up from the
# request (it is being rewritten around the converter's facade); they go once it takes
# StoreDep, BrokerDep and SettingsDep like every other route.
def store_of(request: Request) -> Store:
    return components_of(request.app).store


def broker_of(request: Request) -> RabbitBroker:
    return components_of(request.app).broker


def settings_of(request: Request) -> ApiSettings:
    return components_of(request.app).settings
