"""The API's long-lived objects are built once, when the app starts (postroom_api.components),
and routes get them through the dependency aliases of postroom_api.deps: nothing is made, and
nothing is read from the environment, while a request waits."""

import pytest
from fastapi import APIRouter, Request
from pydantic import SecretStr, ValidationError

from postroom_api.auth import RequireAdmin
from postroom_api.components import components_of, open_components
from postroom_api.deps import (
    BrokerAdminDep,
    BrokerDep,
    GaugesDep,
    OAuthEndpointsDep,
    RelayDep,
    RendererDep,
    SecretsDep,
    SettingsDep,
    StoreDep,
    TokensDep,
)
from postroom_api.settings import ApiSettings
from tests.conftest import free_port
from tests.integration.api_app import ADMIN_KEY, SECRET, api_client, bearer
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack

probe = APIRouter(prefix="/v1/components-probe", dependencies=[RequireAdmin])


@probe.get("")
async def which(
    request: Request,
    store: StoreDep,
    broker: BrokerDep,
    broker_admin: BrokerAdminDep,
    gauges: GaugesDep,
    settings: SettingsDep,
    secrets: SecretsDep,
    endpoints: OAuthEndpointsDep,
    tokens: TokensDep,
    relay: RelayDep,
    renderer: RendererDep,
) -> dict[str, bool]:
    """For each dependency: is it the object the lifespan built?"""
    built = components_of(request.app)
    return {
        "store": store is built.store,
        "broker": broker is built.broker,
        "broker_admin": broker_admin is built.broker_admin,
        "gauges": gauges is built.gauges,
        "settings": settings is built.settings,
        "secrets": secrets is built.secrets,
        "endpoints": endpoints is built.oauth_endpoints,
        "tokens": tokens is built.tokens,
        "relay": relay is built.relay,
        "renderer": renderer is built.renderer,
    }


async def test_routes_get_the_objects_the_lifespan_built(stack: StackEnv, sqlite_url: str) -> None:
    async with api_client(sqlite_url, stack.amqp_url, routers=[probe]) as client:
        for _ in range(2):  # and the same ones on every request
            answer = await client.get("/v1/components-probe", headers=bearer())
            assert answer.status_code == 200, answer.text
            assert answer.json() == dict.fromkeys(answer.json(), True)
            assert len(answer.json()) == 10


async def test_the_built_in_relay_is_read_at_start_not_on_a_request(
    stack: StackEnv, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    at_start, later = free_port(), free_port()  # nothing listens on either
    monkeypatch.setenv("POSTROOM_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("POSTROOM_SMTP_PORT", str(at_start))
    monkeypatch.setenv("POSTROOM_SMTP_SECURITY", "none")
    async with api_client(sqlite_url, stack.amqp_url) as client:
        monkeypatch.setenv("POSTROOM_SMTP_PORT", str(later))
        body = {"to": "alice@example.test", "from_address": "support@example.test"}
        sent = await client.post("/v1/smtp/test", json=body, headers=bearer())
        assert sent.status_code == 200, sent.text
        assert sent.json()["ok"] is False
        assert sent.json()["server"] == f"127.0.0.1:{at_start}"


async def test_a_relay_setting_that_does_not_parse_stops_the_start(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTROOM_SMTP_PORT", "not-a-port")
    settings = ApiSettings(
        store_url=sqlite_url, secret_key=SecretStr(SECRET), admin_api_key=SecretStr(ADMIN_KEY)
    )
    with pytest.raises(ValidationError, match="port"):
        async with open_components(settings):
            pytest.fail("the components were built with a relay port that is not a number")
