"""The fetcher service: supervised per-account workers (see supervisor.py, worker.py) and
`poll_once`, one synchronous pass over one account for tools and tests.

Never lose, never duplicate (DESIGN §4): download → publish, confirmed by the broker → only
then delete/flag on the server → only then advance the checkpoint (IMAP) or record the UIDL
(POP3). A crash anywhere re-publishes at most one batch under the same mail keys.
"""

import asyncio
from dataclasses import dataclass, field

from faststream.rabbit import RabbitBroker

from postroom_fetcher.adapters.pop3 import Pop3Mailbox
from postroom_fetcher.budget import ByteBudget
from postroom_fetcher.credentials import AccessTokens
from postroom_fetcher.settings import FetcherSettings
from postroom_fetcher.supervisor import Supervisor, default_replica_id
from postroom_fetcher.sync_imap import sync_imap_folder
from postroom_fetcher.sync_pop3 import sync_pop3
from postroom_fetcher.threads import AccountThread
from postroom_fetcher.worker import WorkerDeps, open_mailbox
from postroom_shared.ingest import imap_mail_key as mail_key
from postroom_shared.models import EmailAccount
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store

__all__ = ["Fetcher", "mail_key"]


@dataclass
class Fetcher:
    store: Store
    broker: RabbitBroker
    secrets: SecretBox
    settings: FetcherSettings
    tokens: AccessTokens | None = None
    replica_id: str | None = None
    _supervisor: Supervisor | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.deps = WorkerDeps(
            store=self.store,
            broker=self.broker,
            secrets=self.secrets,
            tokens=self.tokens,
            settings=self.settings,
            slots=asyncio.Semaphore(self.settings.max_parallel_fetches),
            memory=ByteBudget(self.settings.fetch_memory_bytes),
        )

    @property
    def owned(self) -> set[str]:
        """Ids of the accounts this replica fetches now."""
        return self._supervisor.owned if self._supervisor else set()

    async def poll_once(self, account: EmailAccount) -> int:
        """Fetch and publish everything new in `account`'s mailbox; returns how many mails."""
        run = AccountThread(account.id)
        mailbox = await open_mailbox(
            account,
            secrets=self.secrets,
            tokens=self.tokens,
            timeout_s=self.settings.network_timeout_s,
            ca_file=self.settings.mail_ca_file,
            run=run,
        )
        try:
            if isinstance(mailbox, Pop3Mailbox):
                return await sync_pop3(self.deps.sync, account, mailbox, run)
            return await sync_imap_folder(self.deps.sync, account, mailbox, run)
        finally:
            await run(mailbox.close)
            run.shutdown()

    async def supervise(self) -> None:
        """Fetch every active account whose lease this replica wins, until cancelled."""
        replica = self.replica_id or self.settings.replica_id or default_replica_id()
        self._supervisor = Supervisor(self.deps, replica)
        await self._supervisor.run()
