"""One POP3 session: everything whose UIDL was not seen is published once.

POP3 has no UIDs or checkpoints; the store's seen keys (namespace "uidl") remember which
messages were published. Order per batch: download (TOP n 0 only for mail over the limit) →
publish, confirmed → DELE (when the account deletes after reading) → record the UIDLs. DELE
takes effect only at QUIT, so a session that dies anywhere deletes nothing; mail published
and recorded but still on the server is deleted in the next session. After QUIT the keys of
mail gone from the server are pruned.
"""

from postroom_fetcher.adapters.pop3 import Pop3Mailbox
from postroom_fetcher.crashpoints import crash_point
from postroom_fetcher.oversize import quarantine_too_large
from postroom_fetcher.plan import batches, pop3_mail_key
from postroom_fetcher.sync_imap import SyncDeps
from postroom_fetcher.threads import AccountThread
from postroom_shared.ingest import publish_raw_mail
from postroom_shared.logs import bind, get_logger
from postroom_shared.models import AfterRead, EmailAccount

__all__ = ["UIDL_NAMESPACE", "sync_pop3"]

UIDL_NAMESPACE = "uidl"
log = get_logger(__name__)


async def sync_pop3(
    deps: SyncDeps, account: EmailAccount, mailbox: Pop3Mailbox, run: AccountThread
) -> int:
    """Publish every new message; returns how many were handled. Ends the session (QUIT)."""
    delete = account.after_read is AfterRead.DELETE
    listing = await run(mailbox.listing)
    seen = await deps.store.seen_keys(account.id, UIDL_NAMESPACE, [m.uidl for m in listing])
    new = [m for m in listing if m.uidl not in seen]
    deleted = [m for m in listing if m.uidl in seen] if delete else []
    if deleted:
        await run(mailbox.delete, [m.number for m in deleted])
    limit = deps.limit(account)
    done = 0
    for index, batch in enumerate(batches(new, deps.batch_size)):
        if index:
            crash_point("mid_download")
        for message in batch:
            key = pop3_mail_key(account.id, message.uidl)
            with bind(mail_key=key, correlation_id=key):
                if message.size > limit:
                    headers = await run(mailbox.headers, message.number)
                    await quarantine_too_large(
                        deps.store,
                        deps.broker,
                        account_id=account.id,
                        mail_key=key,
                        headers=headers,
                        size=message.size,
                        limit=limit,
                        source=deps.source,
                    )
                    log.warning("mail over the size limit quarantined", size=message.size)
                else:
                    raw = await run(mailbox.retrieve, message.number)
                    await publish_raw_mail(
                        deps.store,
                        deps.broker,
                        account_id=account.id,
                        raw=raw,
                        mail_key=key,
                        source=deps.source,
                        inline_max_bytes=deps.inline_max_bytes,
                    )
                    log.info("mail published", size=len(raw))
        crash_point("after_publish")
        if delete:
            await run(mailbox.delete, [m.number for m in batch])
            deleted.extend(batch)
        crash_point("after_finish")
        await deps.store.add_seen_keys(account.id, UIDL_NAMESPACE, [m.uidl for m in batch])
        crash_point("after_checkpoint")
        done += len(batch)
    await run(mailbox.quit)
    gone = {m.uidl for m in deleted}
    await deps.store.prune_seen_keys(
        account.id, UIDL_NAMESPACE, [m.uidl for m in listing if m.uidl not in gone]
    )
    return done
