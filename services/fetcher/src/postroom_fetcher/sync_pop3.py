"""One POP3 session: everything whose UIDL was not seen is published once.

POP3 has no UIDs or checkpoints; the store's seen keys (namespace "uidl") remember which
messages were published. Batches are cut by count and by bytes (LIST sizes), like IMAP's.
Order per batch: download (TOP n 0 only for mail over the limit; mail over the inline limit
streamed into the blob store as RETR delivers it) → publish, confirmed → DELE (when the
account deletes after reading) → record the UIDLs. DELE takes effect only at QUIT, so a
session that dies anywhere deletes nothing; mail published and recorded but still on the
server is deleted in the next session. After QUIT the keys of mail gone from the server are
pruned.
"""

from typing import Literal

from postroom_fetcher.adapters.pop3 import Pop3Body, Pop3Mailbox, Pop3Message
from postroom_fetcher.crashpoints import crash_point
from postroom_fetcher.errors import MailboxError
from postroom_fetcher.oversize import quarantine_headers, quarantine_too_large
from postroom_fetcher.plan import batch_weight, byte_batches, pop3_mail_key
from postroom_fetcher.poison import (
    POISON_STRIKES,
    add_strikes,
    clear_strikes,
    count_strikes,
    unreadable_headers,
    unreadable_reason,
)
from postroom_fetcher.streaming import stream_to_blob
from postroom_fetcher.sync_imap import SyncDeps
from postroom_fetcher.threads import AccountThread
from postroom_shared.ingest import publish_raw_mail, publish_stored_mail
from postroom_shared.logs import bind, get_logger
from postroom_shared.models import AfterRead, EmailAccount

__all__ = ["UIDL_NAMESPACE", "sync_pop3"]

UIDL_NAMESPACE = "uidl"
STRIKES_NAMESPACE = "strikes:pop3"
log = get_logger(__name__)


async def sync_pop3(
    deps: SyncDeps, account: EmailAccount, mailbox: Pop3Mailbox, run: AccountThread
) -> int:
    """Publish every new message; returns how many were handled. Ends the session (QUIT)."""
    delete = account.after_read is AfterRead.DELETE
    listing = await run(mailbox.listing)
    seen = await deps.store.seen_keys(account.id, UIDL_NAMESPACE, [m.uidl for m in listing])
    strikes = await count_strikes(
        deps.store, account.id, STRIKES_NAMESPACE, [m.uidl for m in listing]
    )
    poisoned = {m.uidl for m in listing if strikes[m.uidl] >= POISON_STRIKES}
    new = [m for m in listing if m.uidl not in seen]
    limit = deps.limit(account)
    # published before, but the session that deleted them died before QUIT (mail over the
    # limit is never deleted: only its headers were kept)
    deleted = (
        [m for m in listing if m.uidl in seen and m.uidl not in poisoned and m.size <= limit]
        if delete
        else []
    )
    if deleted:
        await run(mailbox.delete, [m.number for m in deleted])
    failing: list[Pop3Message] = []  # the server refused them this time: retried next session
    done = 0
    weighed = [(m, batch_weight(m.size, limit)) for m in new]
    planned = byte_batches(weighed, count=deps.batch_size, budget=deps.batch_bytes)
    for index, batch in enumerate(planned):
        if index:
            crash_point("mid_download")
        handled: list[Pop3Message] = []
        for message in batch:
            outcome = await _deliver(deps, account, mailbox, run, message, limit, strikes)
            if outcome == "failed":
                failing.append(message)
            else:
                handled.append(message)
        crash_point("after_publish")
        if delete:
            # mail the server could not hand out, or over the limit, stays there untouched
            readable = [
                m for m in handled if strikes.get(m.uidl, 0) < POISON_STRIKES and m.size <= limit
            ]
            await run(mailbox.delete, [m.number for m in readable])
            deleted.extend(readable)
        crash_point("after_finish")
        await deps.store.add_seen_keys(account.id, UIDL_NAMESPACE, [m.uidl for m in handled])
        crash_point("after_checkpoint")
        done += len(handled)
    await run(mailbox.quit)
    gone = {m.uidl for m in deleted}
    await deps.store.prune_seen_keys(
        account.id, UIDL_NAMESPACE, [m.uidl for m in listing if m.uidl not in gone]
    )
    if any(strikes.values()):
        # keep the strikes of mail still failing, and of unreadable mail still on the server
        keep = [m.uidl for m in failing] + sorted(poisoned)
        await clear_strikes(deps.store, account.id, STRIKES_NAMESPACE, keep)
    return done


async def _deliver(
    deps: SyncDeps,
    account: EmailAccount,
    mailbox: Pop3Mailbox,
    run: AccountThread,
    message: Pop3Message,
    limit: int,
    strikes: dict[str, int],
) -> Literal["published", "quarantined", "failed"]:
    key = pop3_mail_key(account.id, message.uidl)
    with bind(mail_key=key, correlation_id=key):
        if strikes.get(message.uidl, 0) >= POISON_STRIKES:
            await quarantine_headers(
                deps.store,
                deps.broker,
                account_id=account.id,
                mail_key=key,
                headers=unreadable_headers(f"POP3 UIDL {message.uidl}"),
                size=message.size,
                reason=unreadable_reason(f"POP3 message UIDL {message.uidl}"),
                too_large=False,
                source=deps.source,
            )
            log.error("mail the server cannot hand out quarantined and skipped")
            return "quarantined"
        try:
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
                return "quarantined"
            if message.size > deps.inline_max_bytes:
                return await _stream(deps, account, mailbox, run, message, limit)
            async with deps.memory.hold(message.size):
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
            return "published"
        except MailboxError as exc:
            if exc.kind != "protocol":
                raise
            # The server answered -ERR for this one message; the session goes on.
            await add_strikes(deps.store, account.id, STRIKES_NAMESPACE, [message.uidl], strikes)
            log.warning("server refused a message", error=str(exc), strikes=strikes[message.uidl])
            return "failed"


async def _stream(
    deps: SyncDeps,
    account: EmailAccount,
    mailbox: Pop3Mailbox,
    run: AccountThread,
    message: Pop3Message,
    limit: int,
) -> Literal["published"]:
    """RETR straight into the blob store, piece by piece, then publish the blob."""
    async with deps.memory.hold(deps.chunk_bytes):
        body: Pop3Body = await run(mailbox.open_body, message.number, deps.chunk_bytes)
        what = f"POP3 message UIDL {message.uidl}"
        stored = await stream_to_blob(deps.store, run, body, limit=limit, what=what)
    if stored is None:  # POP3 messages cannot vanish within a session
        raise MailboxError(f"{what} ended before it began", kind="protocol", permanent=False)
    await publish_stored_mail(
        deps.broker,
        account_id=account.id,
        blob=stored.blob,
        mail_key=pop3_mail_key(account.id, message.uidl),
        source=deps.source,
    )
    log.info("mail published", size=stored.blob.size, streamed=True)
    return "published"
