"""The fetcher as other code sees it: `Fetcher` builds what every account worker shares from
the settings, then either supervises (the service: `supervisor.py` decides which accounts run,
`worker.py` runs each) or makes one synchronous pass over one account (`poll_once`, for tools
and tests).

Never lose, never duplicate (docs/architecture.md): download → publish, confirmed by the
broker → only then delete/flag on the server → only then advance the checkpoint (IMAP) or
record the UIDL (POP3). A crash anywhere re-publishes at most one batch under the same mail
keys.
"""

from dataclasses import dataclass, field

from faststream.rabbit import RabbitBroker

from postroom_fetcher.adapters.credentials import AccessTokens
from postroom_fetcher.adapters.threads import AccountThread
from postroom_fetcher.settings import FetcherSettings
from postroom_fetcher.supervisor import Supervisor, default_replica_id
from postroom_fetcher.sync.deps import CrashHook, no_crash
from postroom_fetcher.sync.dispatch import sync_mailbox
from postroom_fetcher.worker import WorkerDeps
from postroom_shared.models import EmailAccount
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store

__all__ = ["Fetcher"]


@dataclass
class Fetcher:
    store: Store
    broker: RabbitBroker
    secrets: SecretBox
    settings: FetcherSettings
    tokens: AccessTokens | None = None
    replica_id: str | None = None
    crash: CrashHook = no_crash  # the kill tests' hook at the sync's dangerous seams
    _supervisor: Supervisor | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.deps = WorkerDeps.build(
            store=self.store,
            broker=self.broker,
            secrets=self.secrets,
            tokens=self.tokens,
            settings=self.settings,
            crash=self.crash,
        )

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

    async def supervise(self) -> None:
        """Fetch every active account whose lease this replica wins, until cancelled."""
        replica = self.replica_id or self.settings.replica_id or default_replica_id()
        self._supervisor = Supervisor(self.deps, replica)
        await self._supervisor.run()
