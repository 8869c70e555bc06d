"""The fetcher as other code sees it: `Fetcher` builds what every account worker shares from
the settings, then either supervises (the service: `supervisor.py` decides which accounts run,
`worker.py` runs each) or makes one synchronous pass over one account (`poll_once`, for tools
and tests).

Never lose, never duplicate (docs/architecture.md): download → publish, confirmed by the
broker → only then delete/flag on the server → only then advance the checkpoint (IMAP) or
record the UIDL (POP3). A crash anywhere re-publishes at most one batch under the same mail
keys.
"""

import asyncio
from dataclasses import dataclass, field

from faststream.rabbit import RabbitBroker

from postroom_fetcher.adapters.credentials import AccessTokens
from postroom_fetcher.adapters.mailbox import MailboxAccess
from postroom_fetcher.adapters.threads import AccountThread
from postroom_fetcher.settings import FetcherSettings
from postroom_fetcher.store import FetcherStore
from postroom_fetcher.supervisor import Supervisor, default_replica_id
from postroom_fetcher.sync.budget import ByteBudget
from postroom_fetcher.sync.deps import SyncDeps
from postroom_fetcher.sync.hooks import CrashHook, no_crash
from postroom_fetcher.sync.outlet import Outlet
from postroom_fetcher.worker import AccountWorker, WorkerDeps, sync_mailbox
from postroom_shared.config_hints import ConfigChange, keep_listening
from postroom_shared.models import EmailAccount
from postroom_shared.secretbox import SecretBox

__all__ = ["Fetcher"]


@dataclass
class Fetcher:
    store: FetcherStore
    broker: RabbitBroker
    secrets: SecretBox
    settings: FetcherSettings
    tokens: AccessTokens | None = None
    replica_id: str | None = None
    crash: CrashHook = no_crash  # the kill tests' hook at the sync's dangerous seams
    _supervisor: Supervisor | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        s = self.settings
        outlet = Outlet(self.store, self.broker, "fetcher", inline_max_bytes=s.inline_max_bytes)
        sync = SyncDeps(
            outlet,
            batch_size=s.fetch_batch,
            batch_bytes=s.fetch_batch_bytes,
            chunk_bytes=s.fetch_chunk_bytes,
            memory=ByteBudget(s.fetch_memory_bytes),  # mail bytes held at once, process-wide
            max_mail_bytes=s.max_mail_bytes,
            crash=self.crash,
        )
        access = MailboxAccess(
            self.secrets, self.tokens, timeout_s=s.network_timeout_s, ca_file=s.mail_ca_file
        )
        slots = asyncio.Semaphore(s.max_parallel_fetches)
        self.deps = WorkerDeps(self.store, self.broker, access, s, slots, sync)

    @property
    def owned(self) -> set[str]:
        """Ids of the accounts this replica fetches now."""
        return self._supervisor.owned if self._supervisor else set()

    async def poll_once(self, account: EmailAccount) -> int:
        """Fetch and publish everything new in `account`'s mailbox; returns how many mails."""
        run = AccountThread(account.id)
        mailbox = await self.deps.access.open(account, run)
        try:
            return await sync_mailbox(self.deps.sync, account, mailbox, run)
        finally:
            await run(mailbox.close)
            run.shutdown()

    def _new_worker(self, account_id: str, honour_backoff: bool) -> AccountWorker:
        return AccountWorker(self.deps, account_id, honour_backoff=honour_backoff)

    async def supervise(self) -> None:
        """Fetch every active account whose lease this replica wins, until cancelled."""
        replica = self.replica_id or self.settings.replica_id or default_replica_id()
        supervisor = Supervisor(self.store, self.settings, self._new_worker, replica)
        self._supervisor = supervisor

        def on_change(change: ConfigChange) -> None:
            if change.what in ("account", "fetch_now"):
                supervisor.poke()

        hints = asyncio.create_task(
            keep_listening(
                self.broker,
                f"fetcher.{replica}",
                on_change,
                retry_s=self.settings.accounts_refresh_s,
            )
        )
        try:
            await supervisor.run()
        finally:
            hints.cancel()
            await asyncio.gather(hints, return_exceptions=True)
