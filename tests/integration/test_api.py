"""The API over HTTP on a real store and broker: auth, health semantics, no secrets out."""

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from postroom_api.app import create_app
from postroom_api.settings import ApiSettings
from postroom_shared.models import EmailAccount, MailboxSettings, ServiceHeartbeat
from postroom_shared.store import open_store
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
KEY = "k" * 32
Client = httpx.AsyncClient


@pytest.fixture
async def client(stack: StackEnv, sqlite_url: str) -> AsyncIterator[Client]:
    settings = ApiSettings(
        store_url=sqlite_url,
        broker_url=stack.amqp_url,
        secret_key=SecretStr("s" * 40),
        admin_api_key=SecretStr(KEY),
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        # Wait for the background broker connection: cancelling aio-pika mid-connect at
        # teardown would leave its half-open connection's tasks to a closed event loop.
        for _ in range(100):
            if await app.state.broker.ping(timeout=0.1):
                break
            await asyncio.sleep(0.1)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as test_client:
            yield test_client


def _auth(key: str = KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_every_v1_route_needs_the_key(client: Client) -> None:
    for path in ("/v1/items", "/v1/accounts", "/v1/items/it_x"):
        assert (await client.get(path)).status_code == 401
        response = await client.get(path, headers=_auth("wrong" * 10))
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    assert (await client.get("/v1/items", headers=_auth())).json() == []
    assert (await client.get("/v1/items/it_x", headers=_auth())).status_code == 404
    assert (await client.get("/openapi.json")).status_code == 200


async def test_healthz_is_ready_only_with_every_service(client: Client, sqlite_url: str) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["fetcher"] == "no heartbeat"

    async def beat(ready: bool) -> None:
        store = await open_store(sqlite_url)
        for service in ("fetcher", "converter", "replier"):
            detail = "" if ready else "broker connection down"
            beat = ServiceHeartbeat(service=service, instance="t", ready=ready, detail=detail)
            await store.heartbeat(beat)
        await store.close()

    await beat(False)
    response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["replier"] == "broker connection down"
    await beat(True)
    response = await client.get("/healthz")
    assert response.status_code == 200, response.json()
    assert set(response.json()["checks"].values()) == {"ok"}


async def test_accounts_never_return_secrets(client: Client, sqlite_url: str) -> None:
    store = await open_store(sqlite_url)
    box = MailboxSettings(host="h", port=993, username="u", password_enc="v1:secret")
    await store.put_account(
        EmailAccount(id="a1", name="Support", address="s@example.test", project="P", mailbox=box)
    )
    await store.close()
    response = await client.get("/v1/accounts", headers=_auth())
    assert response.status_code == 200
    assert "v1:secret" not in response.text and "password_enc" not in response.text
    assert response.json()[0]["mailbox"]["password_set"] is True
