"""The retention cleanup where it runs: `postroom cleanup` on both stores, and the API's
periodic pass (its lifespan task) with its Prometheus metrics."""

import asyncio
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from postroom_shared.models import ProcessingLogEntry, QuarantineEntry, utcnow
from postroom_shared.store import Store, open_store
from tests.integration.api_app import api_client
from tests.stack_env import StackEnv

POSTROOM = Path(sys.executable).parent / "postroom"


def _old_log(key: str) -> ProcessingLogEntry:
    return ProcessingLogEntry(
        id=f"{key}:converter:ignored", mail_key=key, account_id="a1", stage="converter",
        action="ignored", reason="r", at=utcnow() - timedelta(days=31),
    )  # fmt: skip


async def _seed(store: Store) -> None:
    await store.put_log(_old_log("old"))
    await store.put_quarantine(
        QuarantineEntry(
            id="q_old",
            account_id="a1",
            mail_key="k",
            reason="r",
            event="{}",
            blob_ref=await store.put_blob(b"poison"),
            created_at=utcnow() - timedelta(days=91),
        )
    )


def _cleanup(url: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, POSTROOM_STORE_URL=url, POSTROOM_SECRET_KEY="c" * 40)
    return subprocess.run(
        [str(POSTROOM), "cleanup"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_cleanup_command_deletes_once_and_reports_per_kind(store_url: str) -> None:
    store = await open_store(store_url)
    try:
        await _seed(store)
    finally:
        await store.close()
    first = _cleanup(store_url)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert "log: 1 deleted" in lines and "quarantine: 1 deleted" in lines, first.stdout
    # The blob the quarantine entry held is free now, but within its grace period: kept.
    assert "blobs: 0 deleted" in lines
    again = _cleanup(store_url)
    assert again.returncode == 0, again.stderr
    assert all(line.endswith(": 0 deleted") for line in again.stdout.splitlines()), again.stdout


@pytest.mark.stack
async def test_api_runs_the_cleanup_and_reports_it_in_metrics(
    stack: StackEnv, sqlite_url: str
) -> None:
    store = await open_store(sqlite_url)
    try:
        await _seed(store)
        async with api_client(sqlite_url, stack.amqp_url, retention_interval_s=3600) as client:
            for _ in range(100):
                if not await store.list_log():
                    break
                await asyncio.sleep(0.1)
            assert await store.list_log() == []
            assert await store.list_quarantine() == []
            metrics = (await client.get("/metrics")).text
            assert 'postroom_retention_deleted_total{kind="log"}' in metrics
            assert "postroom_retention_last_run_timestamp_seconds" in metrics
            assert "postroom_retention_last_run_duration_seconds" in metrics
        # Off: the API leaves everything alone.
        await _seed(store)
        async with api_client(sqlite_url, stack.amqp_url, retention_interval_s=0):
            await asyncio.sleep(1.0)
            assert len(await store.list_log()) == 1
    finally:
        await store.close()
