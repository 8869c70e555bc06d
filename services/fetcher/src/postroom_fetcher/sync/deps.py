"""What one pass over a mailbox needs, shared by the IMAP and the POP3 sync: where mail goes
(`Outlet`), how batches are cut, the process-wide memory budget, the size ceiling, and the
crash hook.

The crash hook is called at the seams where a process death is most dangerous (between
batches, mid stream, after a publish, after the server-side delete, after the checkpoint).
In production it does nothing; the kill tests inject one that SIGKILLs the process there, to
prove that a death at any of them loses and duplicates nothing.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from postroom_fetcher.sync.budget import ByteBudget
from postroom_fetcher.sync.publish import Outlet
from postroom_shared.models import EmailAccount
from postroom_shared.store import Store

__all__ = ["CrashHook", "CrashPoint", "SyncDeps", "no_crash"]

CrashPoint = Literal[
    "mid_download", "mid_stream", "after_publish", "after_finish", "after_checkpoint"
]
type CrashHook = Callable[[CrashPoint], None]


def no_crash(point: CrashPoint) -> None:
    """The production crash hook: nothing happens."""


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
    def store(self) -> Store:
        return self.outlet.store

    @property
    def inline_max_bytes(self) -> int:
        return self.outlet.inline_max_bytes

    def limit(self, account: EmailAccount) -> int:
        return min(account.max_mail_bytes, self.max_mail_bytes)
