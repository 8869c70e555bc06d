"""One POP3 session: everything whose UIDL was not seen is published once.

POP3 has no UIDs or checkpoints; the store's seen keys (namespace "uidl") remember which
messages were published. Batches are cut by count and by bytes (LIST sizes), like IMAP's.
Order per batch: download (TOP n 0 only for mail over the limit; mail over the inline limit
streamed into the blob store as RETR delivers it) → publish, the batch's confirms awaited
together while the next messages download → DELE (when the
account deletes after reading) → record the UIDLs. DELE takes effect only at QUIT, so a
session that dies anywhere deletes nothing; mail published and recorded but still on the
server is deleted in the next session. After QUIT the keys of mail gone from the server are
pruned.
"""

import asyncio
from dataclasses import dataclass, field
from typing import Literal

from postroom_fetcher.adapters.pop3 import Pop3Body, Pop3Mailbox, Pop3Message
from postroom_fetcher.adapters.threads import AccountThread
from postroom_fetcher.domain.errors import MailboxError
from postroom_fetcher.domain.origin import Origin
from postroom_fetcher.domain.plan import UIDL_NAMESPACE, batch_weight, byte_batches
from postroom_fetcher.domain.poison import (
    POISON_STRIKES,
    POP3_STRIKES_NAMESPACE,
    unreadable_headers,
    unreadable_reason,
)
from postroom_fetcher.sync.deps import SyncDeps
from postroom_fetcher.sync.oversize import quarantine_headers, quarantine_too_large
from postroom_fetcher.sync.publish import publish_mail
from postroom_fetcher.sync.streaming import stream_to_blob
from postroom_fetcher.sync.strikes import add_strikes, clear_strikes, count_strikes
from postroom_shared.logs import bind, get_logger
from postroom_shared.models import AfterRead, EmailAccount

__all__ = ["sync_pop3"]

log = get_logger(__name__)
type Outcome = Literal["published", "quarantined", "failed"]


async def sync_pop3(
    deps: SyncDeps, account: EmailAccount, mailbox: Pop3Mailbox, run: AccountThread
) -> int:
    """Publish every new message; returns how many were handled. Ends the session (QUIT)."""
    return await Pop3Session(deps, account, mailbox, run).sync()


@dataclass
class Pop3Session:
    deps: SyncDeps
    account: EmailAccount
    mailbox: Pop3Mailbox
    run: AccountThread
    strikes: dict[str, int] = field(default_factory=dict)  # by UIDL, kept up to date
    # POP3 answers one command at a time: a RETR (or a streamed body) is read whole before
    # the next command, while earlier messages' publishes wait for their confirms.
    _reading: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def limit(self) -> int:
        return self.deps.limit(self.account)

    async def sync(self) -> int:
        store, account, crash = self.deps.store, self.account, self.deps.crash
        delete = account.after_read is AfterRead.DELETE
        listing = await self.run(self.mailbox.listing)
        uidls = [m.uidl for m in listing]
        seen = await store.seen_keys(account.id, UIDL_NAMESPACE, uidls)
        self.strikes = await count_strikes(store, account.id, POP3_STRIKES_NAMESPACE, uidls)
        poisoned = {m.uidl for m in listing if self.strikes[m.uidl] >= POISON_STRIKES}
        new = [m for m in listing if m.uidl not in seen]
        # published before, but the session that deleted them died before QUIT (mail over the
        # limit is never deleted: only its headers were kept)
        deleted = [m for m in listing if m.uidl in seen and self._deletable(m)] if delete else []
        if deleted:
            await self.run(self.mailbox.delete, [m.number for m in deleted])
        failing: list[Pop3Message] = []  # the server refused them this time: retried next session
        done = 0
        weighed = [(m, batch_weight(m.size, self.limit)) for m in new]
        planned = byte_batches(weighed, count=self.deps.batch_size, budget=self.deps.batch_bytes)
        for index, batch in enumerate(planned):
            if index:
                crash("mid_download")
            handled: list[Pop3Message] = []
            # The batch's publishes wait for their confirms together; the connection reads
            # one message at a time (`_reading`).
            outcomes = await asyncio.gather(*(self._deliver(message) for message in batch))
            for message, outcome in zip(batch, outcomes, strict=True):
                (failing if outcome == "failed" else handled).append(message)
            if handled:
                log.info("batch published", mails=len(handled))
            crash("after_publish")
            if delete:
                # mail the server could not hand out, or over the limit, stays there untouched
                readable = [m for m in handled if self._deletable(m)]
                await self.run(self.mailbox.delete, [m.number for m in readable])
                deleted.extend(readable)
            crash("after_finish")
            await store.add_seen_keys(account.id, UIDL_NAMESPACE, [m.uidl for m in handled])
            crash("after_checkpoint")
            done += len(handled)
        await self.run(self.mailbox.quit)
        gone = {m.uidl for m in deleted}
        await store.prune_seen_keys(
            account.id, UIDL_NAMESPACE, [m.uidl for m in listing if m.uidl not in gone]
        )
        if any(self.strikes.values()):
            # keep the strikes of mail still failing, and of unreadable mail still on the server
            keep = [m.uidl for m in failing] + sorted(poisoned)
            await clear_strikes(store, account.id, POP3_STRIKES_NAMESPACE, keep)
        return done

    def _deletable(self, message: Pop3Message) -> bool:
        return self.strikes.get(message.uidl, 0) < POISON_STRIKES and message.size <= self.limit

    async def _deliver(self, message: Pop3Message) -> Outcome:
        origin = Origin.pop3(self.account.id, message.uidl)
        with bind(mail_key=origin.mail_key, correlation_id=origin.mail_key):
            if self.strikes.get(message.uidl, 0) >= POISON_STRIKES:
                return await self._quarantine_unreadable(origin, message)
            try:
                if message.size > self.limit:
                    return await self._quarantine_too_large(origin, message)
                if message.size > self.deps.inline_max_bytes:
                    return await self._stream(origin, message)
                async with self.deps.memory.hold(message.size):
                    async with self._reading:
                        raw = await self.run(self.mailbox.retrieve, message.number)
                    await publish_mail(self.deps.outlet, origin, raw)
                return "published"
            except MailboxError as exc:
                if exc.kind != "protocol":
                    raise
                # The server answered -ERR for this one message; the session goes on.
                await add_strikes(
                    self.deps.store,
                    self.account.id,
                    POP3_STRIKES_NAMESPACE,
                    [message.uidl],
                    self.strikes,
                )
                strikes = self.strikes[message.uidl]
                log.warning("server refused a message", error=str(exc), strikes=strikes)
                return "failed"

    async def _quarantine_unreadable(self, origin: Origin, message: Pop3Message) -> Outcome:
        await quarantine_headers(
            self.deps.outlet,
            origin,
            headers=unreadable_headers(f"POP3 UIDL {message.uidl}"),
            size=message.size,
            reason=unreadable_reason(f"POP3 message UIDL {message.uidl}"),
            too_large=False,
        )
        log.error("mail the server cannot hand out quarantined and skipped")
        return "quarantined"

    async def _quarantine_too_large(self, origin: Origin, message: Pop3Message) -> Outcome:
        async with self._reading:
            headers = await self.run(self.mailbox.headers, message.number)
        await quarantine_too_large(
            self.deps.outlet, origin, headers=headers, size=message.size, limit=self.limit
        )
        log.warning("mail over the size limit quarantined", size=message.size)
        return "quarantined"

    async def _stream(self, origin: Origin, message: Pop3Message) -> Outcome:
        """RETR straight into the blob store, piece by piece, then publish the blob."""
        chunk = self.deps.chunk_bytes
        what = f"POP3 message UIDL {message.uidl}"
        async with self.deps.memory.hold(chunk), self._reading:
            body: Pop3Body = await self.run(self.mailbox.open_body, message.number, chunk)
            stored = await stream_to_blob(
                self.deps.store, self.run, body, limit=self.limit, what=what, crash=self.deps.crash
            )
        if stored is None:  # POP3 messages cannot vanish within a session
            raise MailboxError(f"{what} ended before it began", kind="protocol", permanent=False)
        await publish_mail(self.deps.outlet, origin, stored.blob)
        return "published"
