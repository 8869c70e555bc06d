"""Dead letters on the real broker: the replier parks an event after exactly its configured
tries, with growing delays; the API and `postroom dlq` list, show, replay and purge it."""

import asyncio
import json
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aio_pika import ExchangeType, connect_robust
from aio_pika.abc import AbstractChannel, AbstractQueue
from pydantic import SecretStr

from postroom_replier.app import register
from postroom_replier.settings import ReplierSettings
from postroom_shared.contracts import AddressV1, MailQuarantinedV1, deterministic_event_id
from postroom_shared.messaging import publish_event
from postroom_shared.runtime import make_broker
from postroom_shared.store import Store
from postroom_shared.topology import EVENTS
from tests import factories
from tests.integration.api_harness import KEY, SECRET, Api, running_api
from tests.integration.broker_faults import FlakyStore, wait_until
from tests.stack_env import REPO, StackEnv

pytestmark = pytest.mark.stack
QUEUE = "replier.mail.quarantined.v1"
TRIES = 3
STEPS = (0.3, 0.9)


@pytest.fixture
async def api(stack: StackEnv, sqlite_url: str) -> AsyncIterator[Api]:
    async with running_api(stack, sqlite_url) as running:
        quiet = factories.account("acc_quiet", "alice@example.test").model_copy(
            update={"name": "Quiet", "tell_sender_when_too_large": False}
        )
        await running.store.put_account(quiet)
        yield running


@pytest.fixture
async def channel(stack: StackEnv, api: Api) -> AsyncIterator[AbstractChannel]:
    await asyncio.wait_for(api.components.broker_ready.wait(), timeout=30)  # topology declared
    conn = await connect_robust(stack.amqp_url)
    channel = await conn.channel()
    # other tests leave events for the replier (items they created, mail they quarantined)
    for event_type in ("item.created.v1", "item.updated.v1", "mail.quarantined.v1"):
        for name in (f"replier.{event_type}", f"replier.{event_type}.dlq"):
            await (await channel.declare_queue(name, passive=True)).purge()
    yield channel
    await conn.close()


@pytest.fixture
async def suppressed(channel: AbstractChannel) -> AbstractQueue:
    """reply.suppressed.v1 events: what the replier says once it handled a notice."""
    exchange = await channel.declare_exchange(EVENTS.name, ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="reply.suppressed.v1")
    return queue


class Replier:
    """The replier as `python -m postroom_replier` wires it, on a store whose account lookup
    fails while `failing` is set."""

    def __init__(self, stack: StackEnv, store: Store) -> None:
        self.failing = True
        self.flaky = FlakyStore(
            store, "get_account", RuntimeError("store unreachable"), lambda: self.failing
        )
        self.settings = ReplierSettings(
            store_url="sqlite:///unused",
            broker_url=stack.amqp_url,
            secret_key=SecretStr(SECRET),
            retry_attempts=TRIES,
            retry_backoff_s=STEPS,
        )
        self.broker = make_broker(self.settings)
        for loop in register(self.broker, self.flaky.as_store(), self.settings):
            loop.close()  # the replier's background loop: not needed by these tests

    async def publish(self) -> MailQuarantinedV1:
        key = f"acc_quiet/INBOX/3/{uuid.uuid4().hex[:8]}"
        event = MailQuarantinedV1(
            event_id=deterministic_event_id(key, "mail.quarantined.v1"),
            source="fetcher",
            correlation_id=key,
            account_id="acc_quiet",
            mail_key=key,
            quarantine_id=f"q_{uuid.uuid4().hex[:20]}",
            reason="mail of 31457280 bytes is over the account's limit of 10485760",
            too_large=True,
            sender=AddressV1(address="casey@example.org", name="Casey"),
            subject="Huge",
            size=30 * 1024 * 1024,
        )
        await publish_event(self.broker, event)
        return event


@pytest.fixture
async def replier(stack: StackEnv, api: Api, channel: AbstractChannel) -> AsyncIterator[Replier]:
    running = Replier(stack, api.store)
    await running.broker.start()
    try:
        yield running
    finally:
        await running.broker.stop()


async def _dead_letters(api: Api, count: int) -> list[dict[str, Any]]:
    async def listed() -> dict[str, Any] | None:
        page: dict[str, Any] = (await api.get(f"/v1/deadletters/{QUEUE}")).json()
        return page if page["count"] == count else None

    page = await wait_until(listed, timeout_s=30, step_s=0.3)
    assert page is not None, f"{QUEUE}.dlq never held {count} message(s)"
    messages: list[dict[str, Any]] = page["messages"]
    return messages


async def _handled(queue: AbstractQueue, event: MailQuarantinedV1) -> dict[str, Any]:
    end = time.monotonic() + 30
    while time.monotonic() < end:
        message = await queue.get(timeout=5, fail=False)
        if message is None:
            await asyncio.sleep(0.1)
            continue
        await message.ack()
        if (body := json.loads(message.body))["correlation_id"] == event.correlation_id:
            return dict(body)
    raise AssertionError(f"no reply.suppressed.v1 for {event.mail_key}")


def _postroom(stack: StackEnv, *args: str) -> subprocess.CompletedProcess[str]:
    env = stack.environ(
        POSTROOM_BROKER_URL=stack.amqp_url,
        POSTROOM_STORE_URL="sqlite:////nonexistent/unused.db",
        POSTROOM_SECRET_KEY=SECRET,
    )
    return subprocess.run(
        [str(REPO / ".venv/bin/postroom"), "dlq", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_an_event_is_parked_after_its_tries_and_replayed_over_the_api(
    api: Api, replier: Replier, suppressed: AbstractQueue
) -> None:
    event = await replier.publish()
    [parked] = await _dead_letters(api, 1)
    await asyncio.sleep(2 * STEPS[-1])  # a fourth try would have come by now
    gaps = replier.flaky.gaps()
    print(f"replier: {len(replier.flaky.calls)} tries, gaps {gaps} s (steps {STEPS})")
    assert len(replier.flaky.calls) == TRIES
    assert gaps[0] >= STEPS[0] * 0.9 and gaps[1] >= STEPS[1] * 0.9 and gaps[1] > gaps[0]
    assert parked["message_id"] == str(event.event_id)
    assert parked["type"] == "mail.quarantined.v1" and parked["attempt"] == TRIES
    assert parked["reason"] == f"failed {TRIES} time(s), last: RuntimeError: store unreachable"
    assert parked["headers"]["x-postroom-queue"] == QUEUE and parked["failed_at"]

    # Looking is not taking: the listing leaves the message where it was, however often.
    for _ in range(3):
        assert len(await _dead_letters(api, 1)) == 1
    shown = await api.get(f"/v1/deadletters/{QUEUE}/messages/{event.event_id}")
    assert (
        shown.status_code == 200 and json.loads(shown.json()["body"])["mail_key"] == event.mail_key
    )
    summary = (await api.get("/v1/deadletters")).json()
    assert {row["queue"] for row in summary} >= {QUEUE, "converter.mail.received.v1"}

    replier.failing = False  # the cause is fixed; replay it
    before = len(replier.flaky.calls)
    replayed = await api.post(f"/v1/deadletters/{QUEUE}/messages/{event.event_id}/replay")
    assert replayed.json() == {"queue": QUEUE, "count": 1}
    handled = await _handled(suppressed, event)  # told: the account wants no notice
    assert handled["notice"] == "too_large"
    assert len(replier.flaky.calls) == before + 1  # processed on its first try again
    assert await _dead_letters(api, 0) == []

    missing = await api.post(f"/v1/deadletters/{QUEUE}/messages/{uuid.uuid4()}/replay")
    assert missing.status_code == 404
    assert (await api.get("/v1/deadletters/nobody.home.v1")).status_code == 404


async def test_purge_and_the_cli(
    stack: StackEnv, api: Api, replier: Replier, suppressed: AbstractQueue
) -> None:
    first, second = await replier.publish(), await replier.publish()
    await _dead_letters(api, 2)

    listed = _postroom(stack, "list", QUEUE)
    assert listed.returncode == 0, listed.stderr
    assert "2 dead letter(s)" in listed.stderr
    assert {line.split("\t")[0] for line in listed.stdout.splitlines()} == {
        str(first.event_id),
        str(second.event_id),
    }
    shown = _postroom(stack, "show", QUEUE, str(first.event_id))
    assert shown.returncode == 0 and json.loads(shown.stdout)["attempt"] == TRIES
    summary = _postroom(stack, "list")
    assert summary.returncode == 0 and f"{QUEUE}\t" in summary.stdout
    refused = _postroom(stack, "purge", QUEUE)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    assert _postroom(stack, "show", "no.such.v1", "x").returncode == 1

    purged = await api.post(f"/v1/deadletters/{QUEUE}/purge")
    assert purged.json() == {"queue": QUEUE, "count": 2}
    assert await _dead_letters(api, 0) == []

    third = await replier.publish()
    await _dead_letters(api, 1)
    replier.failing = False
    replayed = _postroom(stack, "replay", QUEUE)
    assert replayed.returncode == 0 and "replayed 1 message(s)" in replayed.stdout
    await _handled(suppressed, third)
    again = _postroom(stack, "purge", QUEUE, "--yes")
    assert again.returncode == 0 and "purged 0 message(s)" in again.stdout


async def test_dead_letters_need_the_admin_scope(api: Api) -> None:
    created = await api.post("/v1/api-keys", json={"name": "dash", "scopes": ["read"]})
    read = {"Authorization": f"Bearer {created.json()['key']}"}
    response = await api.client.get("/v1/deadletters", headers=read)
    assert response.status_code == 403
    assert (await api.client.get("/v1/deadletters")).status_code == 401
    admin = {"Authorization": f"Bearer {KEY}"}
    assert (await api.client.get("/v1/deadletters", headers=admin)).status_code == 200
