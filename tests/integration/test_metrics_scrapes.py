"""`GET /metrics` needs no key, so a scrape must be cheap: one kept broker connection for every
scrape, and the system gauges cached for POSTROOM_METRICS_CACHE_S."""

import asyncio
import re
import time
import uuid

import pytest
from aio_pika import Message, connect_robust

from postroom_shared.models import QuarantineEntry
from postroom_shared.retry import RetryPolicy
from postroom_shared.topology import DLX, declare_topology
from tests.integration.api_harness import Api, running_api
from tests.integration.broker_faults import rabbitmqctl
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
DLQ = "converter.mail.received.v1.dlq"


def connections_created(stack: StackEnv) -> int:
    """Connections the test node accepted since it started (its churn counter)."""
    out = rabbitmqctl(stack, "eval", "ets:tab2list(connection_churn_metrics).")
    match = re.search(r"\{'?[^,]+'?,\s*(\d+),", out)
    assert match, out
    return int(match.group(1))


async def _gauge(api: Api, name: str, **labels: str) -> float | None:
    text = (await api.client.get("/metrics")).text
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    series = f"{name}{{{wanted}}}" if labels else name
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_fifty_scrapes_share_one_broker_connection(stack: StackEnv, sqlite_url: str) -> None:
    async with running_api(stack, sqlite_url, metrics_cache_s=0) as api:
        await asyncio.wait_for(api.components.broker_ready.wait(), timeout=30)
        before = connections_created(stack)
        started = time.monotonic()
        for _ in range(50):
            assert (await api.client.get("/metrics")).status_code == 200
        took = time.monotonic() - started
        opened = connections_created(stack) - before
        print(f"50 scrapes (no cache) in {took:.2f} s opened {opened} broker connection(s)")
        assert opened <= 1
        assert api.components.broker_admin.connections_opened == 1
        # the delay queues exist once a consumer with these retry settings declared them
        await declare_topology(api.components.broker, RetryPolicy())
        text = (await api.client.get("/metrics")).text
        for queue in (
            "converter.mail.received.v1",
            "converter.mail.received.v1.retry.1s",
            "converter.mail.received.v1.retry.10m",
            "replier.item.created.v1.retry.2m",
            DLQ,
            "replier.mail.quarantined.v1.dlq",
        ):
            assert f'postroom_queue_messages_ready{{queue="{queue}"}}' in text, queue
        assert 'postroom_system_gauges_errors{source="broker"} 0.0' in text


async def test_gauges_are_cached_for_the_window_then_refreshed(
    stack: StackEnv, sqlite_url: str
) -> None:
    window = 2.0
    async with running_api(stack, sqlite_url, metrics_cache_s=window) as api:
        await asyncio.wait_for(api.components.broker_ready.wait(), timeout=30)
        conn = await connect_robust(stack.amqp_url)
        channel = await conn.channel()
        dlq = await channel.declare_queue(DLQ, passive=True)
        await dlq.purge()
        try:
            size = await _gauge(api, "postroom_quarantine_size")
            assert size == 0
            await api.store.put_quarantine(
                QuarantineEntry(
                    id=f"q_{uuid.uuid4().hex[:20]}",
                    account_id="acc1",
                    mail_key="acc1/INBOX/1/1",
                    reason="test",
                    blob_ref="sha256:" + "0" * 64,
                    event="{}",
                )
            )
            exchange = await channel.get_exchange(DLX.name)
            await exchange.publish(Message(b"{}"), routing_key="converter.mail.received.v1")
            started = time.monotonic()
            assert await _gauge(api, "postroom_quarantine_size") == 0  # still the cached value
            await asyncio.sleep(window + 0.1 - (time.monotonic() - started))
            assert await _gauge(api, "postroom_quarantine_size") == 1
            # Quorum queues report depth from statistics a few seconds old: wait for them.
            end = time.monotonic() + 20
            while (depth := await _gauge(api, "postroom_queue_messages_ready", queue=DLQ)) != 1:
                assert time.monotonic() < end, depth
                await asyncio.sleep(0.5)
            print(f"DLQ depth seen after {time.monotonic() - started:.1f} s (window {window} s)")
        finally:
            await dlq.purge()
            await conn.close()
