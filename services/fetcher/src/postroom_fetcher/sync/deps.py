"""What one pass over a mailbox needs, shared by the IMAP and the POP3 sync: where mail goes
(`Outlet`), how batches are cut, the process-wide memory budget, the size ceiling, and the
crash hook (`hooks.py`)."""

from dataclasses import dataclass, field

from postroom_fetcher.store import FetcherStore
from postroom_fetcher.sync.budget import ByteBudget
from postroom_fetcher.sync.hooks import CrashHook, no_crash
from postroom_fetcher.sync.outlet import Outlet
from postroom_shared.models import EmailAccount

__all__ = ["SyncDeps"]


@dataclass(frozen=True)
class SyncDeps:
    outlet: Outlet
    batch_size: int
    batch_bytes: int
    chunk_bytes: int
    memory: ByteBudget  # shared by every account of the process
    max_mail_bytes: int  # the deployment's ceiling; an account may set a lower limit
    crash: CrashHook = field(default=no_crash)

    @property
    def store(self) -> FetcherStore:
        return self.outlet.store

    @property
    def inline_max_bytes(self) -> int:
        return self.outlet.inline_max_bytes

    def limit(self, account: EmailAccount) -> int:
        return min(account.max_mail_bytes, self.max_mail_bytes)
