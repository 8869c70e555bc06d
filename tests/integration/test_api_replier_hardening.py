"""The API side of the replier's hardening (issue 10): template previews render off the event
loop under limits (hostile ones answer 422 naming the limit, the API keeps answering meanwhile),
and the account state lists the addresses a loop breaker silenced."""

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from postroom_shared.models import SendRecord, utcnow
from tests import factories
from tests.integration.api_harness import Api, problems, running_api
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack

# within every operation limit, but 100,000 substring tests over 100 KB take many seconds
SLOW = (
    '{% set s = "x" * 50000 ~ "y" %}{% set t = "x" * 99999 %}'
    "{% for i in range(99999) %}{% if s in t %}{% endif %}{% endfor %}"
)


@pytest.fixture
async def api(stack: StackEnv, store_url: str) -> AsyncIterator[Api]:
    async with running_api(stack, store_url, template_render_timeout_s=1.0) as running:
        await running.store.put_account(factories.account())
        yield running


def _draft(text: str) -> dict[str, object]:
    return {"template": {"name": "Hostile", "text": text}}


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ('{{ "x" * 3000000000 }}', "repetition would be 3000000000 characters"),
        ("{{ 9 ** 99999999 }}", "'**' result over 4096 bits"),
        ("{% for i in range(10**4) %}{% for j in range(10**4) %}{% endfor %}{% endfor %}", "loop"),
        ('{{ "%999999999d" % 1 }}', "width or precision over 1000"),
        ("{{ range(99999) | join }}", "join would be"),
        ("{{ lipsum(99999) }}", "lipsum"),
    ],
)
async def test_hostile_preview_is_a_422_naming_the_limit(api: Api, text: str, limit: str) -> None:
    started = time.monotonic()
    response = await api.post("/v1/templates/preview", json=_draft(text))
    took = time.monotonic() - started
    assert limit in problems(response)["template"], response.text
    assert took < 30, took  # the worker's first start included


async def test_slow_preview_is_stopped_while_the_api_keeps_answering(api: Api) -> None:
    await api.post("/v1/templates/preview", json=_draft("warm {{ item.token }}"))  # worker up
    started = time.monotonic()
    preview = asyncio.create_task(api.post("/v1/templates/preview", json=_draft(SLOW)))
    await asyncio.sleep(0.3)  # the preview is rendering now; a blocked loop would not wake us
    health = await api.get("/healthz")
    answered = time.monotonic() - started - 0.3  # how late the loop served the probe
    response = await preview
    took = time.monotonic() - started
    print(f"slow preview: 422 after {took:.2f} s; /healthz meanwhile in {answered * 1000:.0f} ms")
    assert health.status_code == 200 and answered < 0.5, answered
    assert "longer than 1 s" in problems(response)["template"]
    assert took < 5, took
    ok = await api.post("/v1/templates/preview", json=_draft("Hi {{ item.token }}"))
    assert ok.status_code == 200 and ok.json()["text"] == "Hi INC-42"


async def test_broken_but_harmless_template_still_answers_200_with_error(api: Api) -> None:
    response = await api.post("/v1/templates/preview", json=_draft("{{ nope.x }}"))
    assert response.status_code == 200
    assert "UndefinedError" in response.json()["error"]


async def test_account_state_lists_active_loop_breakers(api: Api) -> None:
    now = utcnow()
    for n, minutes in enumerate((9, 6, 3)):  # three new items answered within 10 minutes
        await api.store.record_send(
            SendRecord(
                recipient="duel@example.org",
                item_id=f"it_duel_{n}",
                fingerprint=f"f{n}",
                at=now - timedelta(minutes=minutes),
                purpose="auto_reply",
                account_id="acc1",
            )
        )
    await api.store.record_send(  # another account's answers are not this account's breaker
        SendRecord(
            recipient="x@example.org",
            item_id="it_x",
            fingerprint="x",
            purpose="auto_reply",
            account_id="acc_other",
        )
    )
    state = (await api.get("/v1/accounts/acc1/state")).json()
    [breaker] = state["loop_breakers"]
    assert breaker["recipient"] == "duel@example.org" and breaker["items"] == 3
    assert breaker["until"] > breaker["tripped_at"]
