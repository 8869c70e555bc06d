"""Every route that accepts a mail address refuses a hostile one with a 422 naming the field,
never a 500 (issue 10: `POST /v1/smtp/test` answered 500 to a fuzzed address)."""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.integration.api_harness import Api, running_api
from tests.stack_env import StackEnv
from tests.unit.test_addresses import FUZZ_FROM, FUZZ_TO

pytestmark = pytest.mark.stack

HOSTILE = [
    FUZZ_TO,
    FUZZ_FROM,
    "a@" + "b" * 64 + ".example",
    "jürgen@example.com",
    "a\ud800@example.com",
    "a@[192.0.2.1]",
    "a@example.com\r\nBcc: x@example.org",
    "a@example..com",
    "a@\U0001f4a9.la",
]


@pytest.fixture
async def api(stack: StackEnv, sqlite_url: str) -> AsyncIterator[Api]:
    async with running_api(stack, sqlite_url) as running:
        yield running


async def _send(api: Api, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
    # json.dumps escapes lone surrogates (`\ud800`) as JSON allows; httpx's json= cannot send them
    return await api.call(
        method,
        path,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )


def _assert_names(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    named = [".".join(map(str, e["loc"][1:])) + " " + e["msg"] for e in errors]
    assert any(field in line for line in named), named


def _account(address: str, name: str = "Desk") -> dict[str, Any]:
    return {"name": name, "address": address, "provider": "push", "project": "P"}


async def test_the_fuzzed_test_mail_is_a_422_naming_both_fields(api: Api) -> None:
    response = await _send(api, "POST", "/v1/smtp/test", {"from_address": FUZZ_FROM, "to": FUZZ_TO})
    _assert_names(response, "to")
    _assert_names(response, "from_address")


@pytest.mark.parametrize("hostile", HOSTILE)
async def test_every_address_field_refuses_hostile_addresses(api: Api, hostile: str) -> None:
    good = await api.post("/v1/accounts", json=_account("desk@example.test"))
    assert good.status_code == 201, good.text
    account_id = good.json()["id"]
    person = await api.post("/v1/people", json={"kind": "customer", "emails": ["c@example.test"]})
    assert person.status_code == 201, person.text
    person_id = person.json()["id"]

    calls: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", "/v1/smtp/test", {"to": hostile}, "to"),
        ("POST", "/v1/smtp/test", {"to": "a@example.test", "from_address": hostile}, "from"),
        ("POST", "/v1/accounts", _account(hostile, "Other"), "address"),
        ("PUT", f"/v1/accounts/{account_id}", _account(hostile), "address"),
        ("PATCH", f"/v1/accounts/{account_id}", {"address": hostile}, "address"),
        ("POST", "/v1/people", {"kind": "user", "emails": ["u@example.test", hostile]}, "emails"),
        ("PUT", f"/v1/people/{person_id}", {"kind": "customer", "emails": [hostile]}, "emails"),
        ("POST", f"/v1/accounts/{account_id}/oauth/start", {"login_hint": hostile}, "login_hint"),
    ]
    for method, path, body, field in calls:
        _assert_names(await _send(api, method, path, body), field)
    stored = (await api.get(f"/v1/accounts/{account_id}")).json()
    assert stored["address"] == "desk@example.test"


async def test_internationalised_domains_are_stored_in_ascii(api: Api) -> None:
    created = await api.post("/v1/accounts", json=_account("Desk@Bücher.Example"))
    assert created.status_code == 201, created.text
    assert created.json()["address"] == "desk@xn--bcher-kva.example"
    person = await api.post("/v1/people", json={"kind": "contact", "emails": ["X@Straße.de"]})
    assert person.json()["emails"] == ["x@xn--strae-oqa.de"]
