"""One pass over an IMAP folder: everything new is published once, in UID order (DESIGN §4).

Batches are cut by count (`fetch_batch`) and by bytes (`fetch_batch_bytes`, from the server's
RFC822.SIZE; a larger mail is a batch of its own). Per batch: download (BODY.PEEK: nothing is
marked read): mail up to the inline limit in one request, larger mail piece by piece into the
blob store (streaming.py), mail over the size limit only its headers → publish
`mail.received.v1` / quarantine as too large, each confirmed by the broker → record their
Message-IDs → only then the after-read action → only then the (UIDVALIDITY, last UID)
checkpoint. A crash anywhere re-publishes at most the current batch under the same mail keys,
which the converter dedupes. What a batch holds in memory is reserved from the process-wide
byte budget (budget.py) before it downloads.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from faststream.rabbit import RabbitBroker

from postroom_fetcher.adapters.imap import ImapBody, ImapMailbox
from postroom_fetcher.budget import ByteBudget
from postroom_fetcher.crashpoints import crash_point
from postroom_fetcher.errors import MailboxError
from postroom_fetcher.oversize import quarantine_headers, quarantine_too_large
from postroom_fetcher.plan import (
    batch_weight,
    batches,
    byte_batches,
    dedupe_key,
    header_block,
    msgid_namespace,
    scan_from,
    split_by_size,
)
from postroom_fetcher.poison import (
    POISON_STRIKES,
    add_strikes,
    clear_strikes,
    count_strikes,
    unreadable_headers,
    unreadable_reason,
)
from postroom_fetcher.streaming import Streamed, stream_to_blob
from postroom_fetcher.threads import AccountThread
from postroom_shared.ingest import imap_mail_key, publish_raw_mail, publish_stored_mail
from postroom_shared.logs import bind, get_logger
from postroom_shared.models import Checkpoint, EmailAccount
from postroom_shared.store import Store

__all__ = ["SyncDeps", "strike_namespace", "sync_imap_folder"]

log = get_logger(__name__)
type Fetch = Callable[[list[int]], dict[int, bytes]]
SIZE_WINDOW = 1000  # UIDs whose RFC822.SIZE one FETCH asks for, to plan batches by bytes


@dataclass(frozen=True)
class SyncDeps:
    store: Store
    broker: RabbitBroker
    inline_max_bytes: int  # larger mail is streamed into the blob store
    batch_size: int
    batch_bytes: int
    chunk_bytes: int
    memory: ByteBudget  # shared by every account of the process
    max_mail_bytes: int  # the deployment's ceiling; an account may set a lower limit
    source: str = "fetcher"

    def limit(self, account: EmailAccount) -> int:
        return min(account.max_mail_bytes, self.max_mail_bytes)


def strike_namespace(folder: str) -> str:
    return f"strikes:{folder}"


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
        for batch in byte_batches(weighed, count=deps.batch_size, budget=deps.batch_bytes):
            if started:
                crash_point("mid_download")
            started = True
            listed = {uid: sizes[uid] for uid in batch if uid in sizes}
            count, struck = await _batch(
                deps, account, mailbox, run, uidvalidity, listed, rescan=scan.rescan
            )
            done += count
            await deps.store.set_checkpoint(
                Checkpoint(
                    account_id=account.id,
                    folder=folder,
                    uidvalidity=uidvalidity,
                    last_uid=batch[-1],
                )
            )
            crash_point("after_checkpoint")
            if struck:
                await clear_strikes(deps.store, account.id, strike_namespace(folder))
    return done


async def _batch(
    deps: SyncDeps,
    account: EmailAccount,
    mailbox: ImapMailbox,
    run: AccountThread,
    uidvalidity: int,
    sizes: dict[int, int],
    *,
    rescan: bool,
) -> tuple[int, bool]:
    """Handle one batch (`sizes`: RFC822.SIZE by UID, this call's to change); (mails
    handled, whether any had strikes)."""
    namespace = msgid_namespace(account.folder)
    limit = deps.limit(account)
    struck_ns = strike_namespace(account.folder)
    counted = await count_strikes(
        deps.store, account.id, struck_ns, [f"{uidvalidity}/{uid}" for uid in sorted(sizes)]
    )
    strikes = {int(key.rsplit("/", 1)[1]): n for key, n in counted.items()}
    poisoned = sorted(uid for uid, n in strikes.items() if n >= POISON_STRIKES)
    for uid in poisoned:
        del sizes[uid]

    async def strike(exc: MailboxError, uids: list[int]) -> None:
        if exc.kind == "protocol":  # the server failed, not the network
            keys = [f"{uidvalidity}/{u}" for u in uids]
            await add_strikes(deps.store, account.id, struck_ns, keys, counted)

    async def guarded(fetch: Fetch, uids: list[int]) -> dict[int, bytes]:
        """`fetch` in one call, or one UID at a time once any of them struck before."""
        careful = any(strikes.get(uid) for uid in uids)
        found: dict[int, bytes] = {}
        for group in [[uid] for uid in uids] if careful else [uids] if uids else []:
            try:
                found.update(await run(fetch, group))
            except MailboxError as exc:
                await strike(exc, group)
                raise
        return found

    async def streamed(uids: list[int]) -> dict[int, Streamed]:
        """Each of `uids` into the blob store, one after the other, piece by piece."""
        found: dict[int, Streamed] = {}
        for uid in uids:
            body = ImapBody(mailbox, uid, deps.chunk_bytes)
            try:
                one = await stream_to_blob(
                    deps.store, run, body, limit=limit, what=f"{account.folder} UID {uid}"
                )
            except MailboxError as exc:
                await strike(exc, [uid])
                raise
            if one is not None:  # else expunged meanwhile
                found[uid] = one
        return found

    headers: dict[int, bytes] = {}
    seen_uids: list[int] = []
    listed = dict(sizes)  # before the rescan drops what was published already
    if rescan:
        headers = await guarded(mailbox.headers, sorted(sizes))
        keys = {uid: dedupe_key(block) for uid, block in headers.items()}
        seen = await deps.store.seen_keys(account.id, namespace, sorted(set(keys.values())))
        seen_uids = [uid for uid, key in keys.items() if key in seen]
        for uid in seen_uids:
            del sizes[uid]
    split = split_by_size(sizes, limit=limit, inline_max=deps.inline_max_bytes)
    large = set(split.too_large)
    bodies: dict[int, bytes] = {}
    stored: dict[int, Streamed] = {}

    async def deliver(uid: int) -> str | None:
        """Publish (or quarantine) one mail; its dedupe key, or None when it vanished."""
        key = imap_mail_key(account.id, account.folder, uidvalidity, uid)
        with bind(mail_key=key, correlation_id=key):
            if uid in stored:
                blob = stored[uid].blob
                await publish_stored_mail(
                    deps.broker,
                    account_id=account.id,
                    blob=blob,
                    mail_key=key,
                    source=deps.source,
                    folder=account.folder,
                    uidvalidity=uidvalidity,
                    uid=uid,
                )
                log.info("mail published", size=blob.size, streamed=True)
                return dedupe_key(stored[uid].headers)
            if uid in bodies:
                raw = bodies[uid]
                await publish_raw_mail(
                    deps.store,
                    deps.broker,
                    account_id=account.id,
                    raw=raw,
                    mail_key=key,
                    source=deps.source,
                    inline_max_bytes=deps.inline_max_bytes,
                    folder=account.folder,
                    uidvalidity=uidvalidity,
                    uid=uid,
                )
                log.info("mail published", size=len(raw))
                return dedupe_key(header_block(raw))
            if uid in large and uid in headers:
                await quarantine_too_large(
                    deps.store,
                    deps.broker,
                    account_id=account.id,
                    mail_key=key,
                    headers=headers[uid],
                    size=sizes[uid],
                    limit=limit,
                    source=deps.source,
                    folder=account.folder,
                    uidvalidity=uidvalidity,
                    uid=uid,
                )
                log.warning("mail over the size limit quarantined", size=sizes[uid], limit=limit)
                return dedupe_key(headers[uid])
            return None  # expunged by somebody else between the size and the download

    async def unreadable(uid: int) -> None:
        key = imap_mail_key(account.id, account.folder, uidvalidity, uid)
        with bind(mail_key=key, correlation_id=key):
            await quarantine_headers(
                deps.store,
                deps.broker,
                account_id=account.id,
                mail_key=key,
                headers=unreadable_headers(f"{account.folder} UIDVALIDITY {uidvalidity} UID {uid}"),
                size=None,
                reason=unreadable_reason(f"message UID {uid}"),
                too_large=False,
                source=deps.source,
                folder=account.folder,
                uidvalidity=uidvalidity,
                uid=uid,
            )
            log.error("mail the server cannot hand out quarantined and skipped", uid=uid)

    # Mail held whole stays in memory until its publish is confirmed: reserve it first.
    held = sum(sizes[uid] for uid in split.whole) + (deps.chunk_bytes if split.streamed else 0)
    uids = sorted(sizes)
    async with deps.memory.hold(held):
        bodies.update(await guarded(mailbox.bodies, split.whole))
        stored.update(await streamed(split.streamed))
        missing = [uid for uid in split.too_large if uid not in headers]
        headers.update(await guarded(mailbox.headers, missing))
        # The batch's publishes wait for their confirms together, not one after the other.
        results = await asyncio.gather(*(deliver(uid) for uid in uids))
        bodies.clear()
    await asyncio.gather(*(unreadable(uid) for uid in poisoned))
    handled = [uid for uid, key in zip(uids, results, strict=True) if key is not None]
    published_keys = [key for key in results if key is not None]
    if published_keys:
        await deps.store.add_seen_keys(account.id, namespace, published_keys)
    crash_point("after_publish")
    # Mail over the limit stays in the mailbox untouched: only its headers were kept, so
    # deleting (or marking) it would lose the one whole copy. The checkpoint still moves past it.
    finished = [uid for uid in handled + seen_uids if listed.get(uid, 0) <= limit]
    await run(mailbox.finish, sorted(finished), account.after_read)
    crash_point("after_finish")
    return len(handled) + len(poisoned), any(strikes.values())
