"""One pass over an IMAP folder: everything new is published once, in UID order.

Batches are cut by count (`fetch_batch`) and by bytes (`fetch_batch_bytes`, from the server's
RFC822.SIZE; a larger mail is a batch of its own). Each batch (`imap_batch.py`) downloads,
publishes (confirmed by the broker), records Message-IDs and applies the after-read action;
only then does the (UIDVALIDITY, last UID) checkpoint move past it. A crash anywhere
re-publishes at most the current batch under the same mail keys, which the converter dedupes.
"""

from postroom_fetcher.adapters.imap import ImapMailbox
from postroom_fetcher.adapters.threads import AccountThread
from postroom_fetcher.domain.plan import batch_weight, batches, byte_batches, scan_from
from postroom_fetcher.domain.poison import strike_namespace
from postroom_fetcher.sync.deps import SyncDeps
from postroom_fetcher.sync.imap_batch import ImapBatch
from postroom_fetcher.sync.strikes import clear_strikes
from postroom_shared.logs import get_logger
from postroom_shared.models import Checkpoint, EmailAccount

__all__ = ["sync_imap_folder"]

log = get_logger(__name__)
SIZE_WINDOW = 1000  # UIDs whose RFC822.SIZE one FETCH asks for, to plan batches by bytes


async def sync_imap_folder(
    deps: SyncDeps, account: EmailAccount, mailbox: ImapMailbox, run: AccountThread
) -> int:
    """Publish everything new in the account's folder; returns how many mails were handled."""
    folder = account.folder
    uidvalidity, _ = await run(mailbox.select, folder)
    scan = scan_from(await deps.store.get_checkpoint(account.id, folder), uidvalidity)
    if scan.rescan:
        log.warning("UIDVALIDITY changed: rescanning, skipping mail seen by Message-ID")
    uids = await run(mailbox.uids_after, scan.after_uid)
    limit = deps.limit(account)
    done = 0
    started = False
    for window in batches(uids, SIZE_WINDOW):
        sizes = await run(mailbox.sizes, window)  # expunged meanwhile: missing
        weighed = [(uid, batch_weight(sizes.get(uid, 0), limit)) for uid in window]
        for planned in byte_batches(weighed, count=deps.batch_size, budget=deps.batch_bytes):
            if started:
                deps.crash("mid_download")
            started = True
            listed = {uid: sizes[uid] for uid in planned if uid in sizes}
            batch = ImapBatch(deps, account, mailbox, run, uidvalidity, listed)
            count, struck = await batch.handle(rescan=scan.rescan)
            done += count
            checkpoint = Checkpoint(
                account_id=account.id, folder=folder, uidvalidity=uidvalidity, last_uid=planned[-1]
            )
            await deps.store.set_checkpoint(checkpoint)
            deps.crash("after_checkpoint")
            if struck:
                await clear_strikes(deps.store, account.id, strike_namespace(folder))
    return done
