"""Which accounts this replica fetches: one worker per account whose lease it holds (what a
worker does with its account is `worker.py`'s business).

Leases (`fetch:<account id>` in the store) make sure that of several fetcher replicas at most
one reads an account at a time. Held leases are renewed every `lease_renew_s` (also while a
worker sits in IDLE: renewal is the supervisor's job, not the worker's), released on a clean
shutdown so another replica can take over at once, and a dead replica's leases simply expire
after `lease_ttl_s`. Configuration changes restart the account's worker; a new OAuth
authorisation or a "fetch now" request (see `probe.request_fetch_now`) wakes it.

Changes are seen at once: `poke()` (called for every configuration hint,
`postroom_shared.config_hints`) makes the next pass start now and reconcile. The periodic
passes (`accounts_refresh_s`, `wake_check_s`) stay as the fallback for a hint that was lost.
"""

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from postroom_fetcher.domain.leases import (
    FETCH_NOW_KEY,
    FETCH_NOW_NAMESPACE,
    fetch_fingerprint,
    lease_name,
    oauth_token_of,
)
from postroom_fetcher.settings import FetcherSettings
from postroom_fetcher.store import FetcherStore
from postroom_shared.logs import get_logger
from postroom_shared.models import EmailAccount

__all__ = ["NewWorker", "Supervisor", "Worker", "default_replica_id"]

log = get_logger(__name__)


def default_replica_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker(Protocol):
    """One account's fetch loop (`worker.AccountWorker`), as far as the supervisor cares."""

    wake: asyncio.Event  # set: fetch now

    async def run(self) -> None:
        """Until the account is deactivated or deleted (or the task is cancelled)."""
        ...


# (account id, honour the stored backoff) -> a worker for that account; after a configuration
# change the backoff is not honoured: the new settings are tried at once
type NewWorker = Callable[[str, bool], Worker]


@dataclass
class _Owned:
    worker: Worker
    task: asyncio.Task[None]
    fingerprint: str
    token: str | None
    renewed_at: float


@dataclass
class Supervisor:
    store: FetcherStore
    settings: FetcherSettings
    new_worker: NewWorker
    replica_id: str
    _owned: dict[str, _Owned] = field(default_factory=dict)
    _poked: asyncio.Event = field(default_factory=asyncio.Event)

    def poke(self) -> None:
        """Reconcile and look for "fetch now" requests at once (a configuration hint came)."""
        self._poked.set()

    @property
    def owned(self) -> set[str]:
        return set(self._owned)

    async def run(self) -> None:
        """Until cancelled; on cancellation stops every worker and releases the leases."""
        s = self.settings
        loop = asyncio.get_running_loop()
        next_refresh = next_renew = loop.time()
        try:
            while True:
                now = loop.time()
                poked = self._poked.is_set()
                self._poked.clear()
                await self._reap()
                try:
                    if now >= next_renew:
                        next_renew = now + s.lease_renew_s
                        await self._renew()
                    if poked or now >= next_refresh:
                        next_refresh = now + s.accounts_refresh_s
                        await self._reconcile()
                    await self._check_fetch_now()
                except Exception as exc:
                    log.warning("supervisor pass failed", error=repr(exc))
                pause = min(s.wake_check_s, s.accounts_refresh_s, s.lease_renew_s)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._poked.wait(), timeout=pause)
        finally:
            await asyncio.shield(self._stop_all())

    async def _reconcile(self) -> None:
        accounts = await self.store.list_accounts(active_only=True)
        wanted = {a.id: a for a in accounts if a.active and a.provider != "push"}
        for account_id in list(self._owned):
            if account_id not in wanted:
                await self._stop(account_id, release=True)
        for account_id, account in wanted.items():
            owned = self._owned.get(account_id)
            if owned is not None and owned.fingerprint != fetch_fingerprint(account):
                log.info(
                    "account configuration changed: restarting its worker", account=account.name
                )
                await self._stop(account_id, release=False)
                await self._try_start(account, changed=True)
            elif owned is None:
                await self._try_start(account)
            elif owned.token != oauth_token_of(account):
                owned.token = oauth_token_of(account)
                owned.worker.wake.set()

    async def _try_start(self, account: EmailAccount, *, changed: bool = False) -> None:
        s = self.settings
        if not await self.store.acquire_lease(
            lease_name(account.id), self.replica_id, s.lease_ttl_s
        ):
            return
        worker = self.new_worker(account.id, not changed)
        task = asyncio.create_task(worker.run(), name=f"fetch-{account.id}")
        self._owned[account.id] = _Owned(
            worker=worker,
            task=task,
            fingerprint=fetch_fingerprint(account),
            token=oauth_token_of(account),
            renewed_at=asyncio.get_running_loop().time(),
        )
        log.info("account taken", account=account.name, replica=self.replica_id)

    async def _renew(self) -> None:
        s = self.settings
        loop = asyncio.get_running_loop()
        for account_id, owned in list(self._owned.items()):
            try:
                held = await self.store.acquire_lease(
                    lease_name(account_id), self.replica_id, s.lease_ttl_s
                )
            except Exception as exc:
                log.warning("lease renewal failed", account_id=account_id, error=repr(exc))
                held = loop.time() - owned.renewed_at < s.lease_ttl_s
            else:
                if held:
                    owned.renewed_at = loop.time()
            if not held:
                log.warning(
                    "lease lost: another replica fetches this account now", account_id=account_id
                )
                await self._stop(account_id, release=False)

    async def _check_fetch_now(self) -> None:
        store = self.store
        for account_id, owned in list(self._owned.items()):
            if FETCH_NOW_KEY not in await store.seen_keys(
                account_id, FETCH_NOW_NAMESPACE, [FETCH_NOW_KEY]
            ):
                continue
            if await store.prune_seen_keys(account_id, FETCH_NOW_NAMESPACE, []):
                owned.worker.wake.set()

    async def _reap(self) -> None:
        """Forget workers that ended (account deactivated, or a crash: restarted next pass)."""
        for account_id, owned in list(self._owned.items()):
            if not owned.task.done():
                continue
            del self._owned[account_id]
            if not owned.task.cancelled() and (error := owned.task.exception()) is not None:
                log.error("account worker crashed", account_id=account_id, error=repr(error))
            try:
                await self.store.release_lease(lease_name(account_id), self.replica_id)
            except Exception as exc:
                log.warning("lease release failed", account_id=account_id, error=repr(exc))

    async def _stop(self, account_id: str, *, release: bool) -> None:
        owned = self._owned.pop(account_id, None)
        if owned is None:
            return
        owned.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await owned.task
        if release:
            await self.store.release_lease(lease_name(account_id), self.replica_id)

    async def _stop_all(self) -> None:
        for account_id in list(self._owned):
            try:
                await self._stop(account_id, release=True)
            except Exception as exc:
                log.warning("lease release failed", account_id=account_id, error=repr(exc))
