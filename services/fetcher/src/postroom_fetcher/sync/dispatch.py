"""One sync of a connected mailbox, whichever its protocol: the worker's loop and `poll_once`
both start here, so neither needs to know how IMAP and POP3 differ."""

from postroom_fetcher.adapters.mailbox import Mailbox
from postroom_fetcher.adapters.pop3 import Pop3Mailbox
from postroom_fetcher.adapters.threads import AccountThread
from postroom_fetcher.sync.deps import SyncDeps
from postroom_fetcher.sync.imap import sync_imap_folder
from postroom_fetcher.sync.pop3 import sync_pop3
from postroom_shared.models import EmailAccount

__all__ = ["sync_mailbox"]


async def sync_mailbox(
    deps: SyncDeps, account: EmailAccount, mailbox: Mailbox, run: AccountThread
) -> int:
    """Publish everything new; returns how many mails were handled. A POP3 session ends
    (QUIT) with its sync; an IMAP connection stays open for IDLE."""
    if isinstance(mailbox, Pop3Mailbox):
        return await sync_pop3(deps, account, mailbox, run)
    return await sync_imap_folder(deps, account, mailbox, run)
