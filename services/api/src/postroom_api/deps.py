"""What a route may ask for, as `Annotated` dependency aliases over the app's components
(`components.Components`, built once in the lifespan): a route writes `store: StoreDep` and
gets the process's store, as FastAPI's full-stack template does with its session and user.

Every alias is an `async def`, so FastAPI calls it on the event loop instead of handing it to
its thread pool (a sync dependency costs a thread hop per request).
"""

import asyncio
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


async def _components(request: Request) -> Components:
    return components_of(request.app)


ComponentsDep = Annotated[Components, Depends(_components)]


async def _store(components: ComponentsDep) -> Store:
    return components.store


async def _broker(components: ComponentsDep) -> RabbitBroker:
    return components.broker


async def _broker_ready(components: ComponentsDep) -> asyncio.Event:
    return components.broker_ready


async def _broker_admin(components: ComponentsDep) -> BrokerAdmin:
    return components.broker_admin


async def _gauges(components: ComponentsDep) -> SystemGauges:
    return components.gauges


async def _settings(components: ComponentsDep) -> ApiSettings:
    return components.settings


async def _secrets(components: ComponentsDep) -> SecretBox:
    return components.secrets


async def _oauth_endpoints(components: ComponentsDep) -> OAuthEndpoints:
    return components.oauth_endpoints


async def _tokens(components: ComponentsDep) -> TokenSource:
    return components.tokens


async def _relay(components: ComponentsDep) -> RelaySettings:
    return components.relay


async def _renderer(components: ComponentsDep) -> TemplateRenderer:
    return components.renderer


StoreDep = Annotated[Store, Depends(_store)]
BrokerDep = Annotated[RabbitBroker, Depends(_broker)]
BrokerReadyDep = Annotated[asyncio.Event, Depends(_broker_ready)]
BrokerAdminDep = Annotated[BrokerAdmin, Depends(_broker_admin)]
GaugesDep = Annotated[SystemGauges, Depends(_gauges)]
SettingsDep = Annotated[ApiSettings, Depends(_settings)]
SecretsDep = Annotated[SecretBox, Depends(_secrets)]
OAuthEndpointsDep = Annotated[OAuthEndpoints, Depends(_oauth_endpoints)]
TokensDep = Annotated[TokenSource, Depends(_tokens)]
RelayDep = Annotated[RelaySettings, Depends(_relay)]
RendererDep = Annotated[TemplateRenderer, Depends(_renderer)]


# The quarantine reprocess route's body still looks its objects up from the request: the
# converter's facade replaces that body (issue 11), and these three go with it.
def store_of(request: Request) -> Store:
    return components_of(request.app).store


def broker_of(request: Request) -> RabbitBroker:
    return components_of(request.app).broker


def settings_of(request: Request) -> ApiSettings:
    return components_of(request.app).settings
