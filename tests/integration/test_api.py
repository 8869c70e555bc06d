"""The API over HTTP on a real store and broker: auth, health semantics, no secrets out."""

from collections.abc import AsyncIterator

import httpx
import pytest

from postroom_shared.models import EmailAccount, MailboxSettings, ServiceHeartbeat
from postroom_shared.store import open_store
from tests.integration.api_app import api_client, bearer
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
Client = httpx.AsyncClient


@pytest.fixture
async def client(stack: StackEnv, sqlite_url: str) -> AsyncIterator[Client]:
    async with api_client(sqlite_url, stack.amqp_url) as test_client:
        yield test_client


async def test_every_v1_route_needs_the_key(client: Client) -> None:
    for path in ("/v1/items", "/v1/accounts", "/v1/items/it_x", "/v1/api-keys"):
        assert (await client.get(path)).status_code == 401
        response = await client.get(path, headers=bearer("wrong" * 10))
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    assert (await client.get("/v1/items", headers=bearer())).status_code == 200
    assert (await client.get("/v1/items/it_x", headers=bearer())).status_code == 404
    for public in ("/openapi.json", "/healthz", "/asyncapi.json", "/metrics"):
        assert (await client.get(public)).status_code == 200, public


async def test_healthz_is_liveness_readyz_needs_every_service(
    client: Client, sqlite_url: str
) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["fetcher"] == "no heartbeat"
    own = await client.get("/readyz", params={"services": "false"})
    assert own.status_code == 200, own.json()
    assert set(own.json()["checks"]) == {"api", "store", "broker"}

    async def beat(ready: bool) -> None:
        store = await open_store(sqlite_url)
        for service in ("fetcher", "converter", "replier"):
            detail = "" if ready else "broker connection down"
            beat = ServiceHeartbeat(service=service, instance="t", ready=ready, detail=detail)
            await store.heartbeat(beat)
        await store.close()

    await beat(False)
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["replier"] == "broker connection down"
    await beat(True)
    response = await client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert set(response.json()["checks"].values()) == {"ok"}


async def test_accounts_never_return_secrets(client: Client, sqlite_url: str) -> None:
    store = await open_store(sqlite_url)
    box = MailboxSettings(host="h", port=993, username="u", password_enc="v1:secret")
    await store.put_account(
        EmailAccount(id="a1", name="Support", address="s@example.test", project="P", mailbox=box)
    )
    await store.close()
    response = await client.get("/v1/accounts", headers=bearer())
    assert response.status_code == 200
    assert "v1:secret" not in response.text and "password_enc" not in response.text
    assert response.json()[0]["mailbox"]["password_set"] is True
