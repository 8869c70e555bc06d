"""Retention: what Postroom forgets, after how long, and the cleanup that does it.

Without it every table and the blob store only grow: processing log, automatic-mail history,
reply ledger, quarantine, heartbeats of stopped processes, Message-ID dedupe keys, console
sessions past their end, and the raw mail and attachments nothing refers to any more. Items and
their threads are the product and are never deleted here.

One cleanup pass (`run_once`) calls the store's purges in an order that frees blobs before
the blob collector runs (the log and the quarantine hold blob references). Every purge is
idempotent and safe beside running services, so the pass can be repeated or interrupted.

Where it runs: the API service runs a pass every `POSTROOM_RETENTION_INTERVAL_S` (one task
in its lifespan), because the API is the one process every installation runs and it is off the
mail path; a store lease (`retention`) lets only one API replica do it per interval. `postroom
cleanup` (postroom_cli.cleanup) runs one pass by hand or from cron (with the interval set to 0).
"""

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from prometheus_client import Counter, Gauge

from postroom_shared.logs import get_logger
from postroom_shared.models import AfterRead, utcnow
from postroom_shared.settings import CommonSettings
from postroom_shared.store import Store

__all__ = [
    "KINDS",
    "SEEN_KEYS_PREFIX",
    "RetentionPolicy",
    "retention_loop",
    "run_once",
]

log = get_logger(__name__)

KINDS = ("log", "sends", "ledger", "quarantine", "heartbeats", "seen_keys", "sessions", "blobs")
# The fetcher's Message-ID dedupe namespaces (`msgid:<folder>`, postroom_fetcher.domain.plan). POP3
# UIDLs, strikes and "fetch now" marks are pruned by the fetcher against the server's listing.
SEEN_KEYS_PREFIX = "msgid:"
LEASE = "retention"

DELETED = Counter(
    "postroom_retention_deleted", "Records deleted by the retention cleanup, by kind.", ["kind"]
)
LAST_RUN = Gauge(
    "postroom_retention_last_run_timestamp_seconds", "When the last cleanup pass finished."
)
LAST_DURATION = Gauge(
    "postroom_retention_last_run_duration_seconds", "How long the last cleanup pass took."
)
FAILURES = Counter("postroom_retention_failures", "Cleanup passes that failed.")


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each kind is kept (the `POSTROOM_RETENTION_*` settings; deploy/env/example.env
    says why each default is what it is)."""

    log: timedelta
    sends: timedelta
    ledger: timedelta
    quarantine: timedelta
    seen_keys: timedelta
    blob_grace: timedelta
    # A process that has not beaten for a day is gone; its heartbeat only fills /readyz's query.
    heartbeats: timedelta = timedelta(days=1)

    @classmethod
    def from_settings(cls, settings: CommonSettings) -> "RetentionPolicy":
        return cls(
            log=timedelta(days=settings.retention_log_days),
            sends=timedelta(days=settings.retention_sends_days),
            ledger=timedelta(days=settings.retention_ledger_days),
            quarantine=timedelta(days=settings.retention_quarantine_days),
            seen_keys=timedelta(days=settings.retention_seen_keys_days),
            blob_grace=timedelta(days=settings.retention_blob_grace_days),
        )


async def _seen_key_accounts(store: Store) -> list[str]:
    # Only accounts that delete mail after reading: there a recorded mail is gone from the
    # server, so its key guards nothing. Accounts that keep mail need every key while the mail
    # may still be there (a UIDVALIDITY rescan would import it again without its key).
    return [
        account.id
        for account in await store.list_accounts()
        if account.provider != "push" and account.after_read == AfterRead.DELETE
    ]


async def run_once(
    store: Store, policy: RetentionPolicy, *, now: datetime | None = None
) -> dict[str, int]:
    """One cleanup pass; how many records of each kind it deleted."""
    now = now or utcnow()
    started = time.monotonic()
    counts = {
        "log": await store.purge_log(now - policy.log),
        "sends": await store.purge_sends(now - policy.sends),
        "ledger": await store.purge_ledger(now - policy.ledger),
        "quarantine": await store.purge_quarantine(now - policy.quarantine),
        "heartbeats": await store.purge_heartbeats(now - policy.heartbeats),
        "seen_keys": await store.purge_seen_keys(
            now - policy.seen_keys,
            account_ids=await _seen_key_accounts(store),
            namespace_prefix=SEEN_KEYS_PREFIX,
        ),
        # Console sign-ins past their absolute end (an idle one is refused, and deleted, at use).
        "sessions": await store.purge_sessions(now),
        # Last: the purges above drop references that kept blobs alive.
        "blobs": await store.purge_blobs(now - policy.blob_grace),
    }
    took = time.monotonic() - started
    for kind, count in counts.items():
        DELETED.labels(kind=kind).inc(count)
    LAST_RUN.set(time.time())
    LAST_DURATION.set(took)
    log.info("retention cleanup done", duration_s=round(took, 3), deleted=counts)
    return counts


async def retention_loop(
    store: Store, policy: RetentionPolicy, *, interval_s: float, owner: str
) -> None:
    """Forever: a pass every `interval_s` while this process holds the `retention` lease.

    The lease outlives the interval by half, so one replica keeps the job and another takes it
    over only when the holder stopped renewing it."""
    while True:
        try:
            if await store.acquire_lease(LEASE, owner, interval_s * 1.5):
                await run_once(store, policy)
        except Exception as exc:  # a store outage must not end the loop: try next time
            FAILURES.inc()
            log.warning("retention cleanup failed", error=repr(exc))
        await asyncio.sleep(interval_s)
