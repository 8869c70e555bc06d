"""One batch of an IMAP folder pass, in named steps.

1. `_drop_poisoned`: mail with too many strikes (`domain/poison.py`) is set aside;
2. `_skip_published` (after a UIDVALIDITY change only): mail whose Message-ID was recorded
   is not published again, but still gets the after-read action;
3. `_download`: mail up to the inline limit in one request per batch (BODY.PEEK: nothing is
   marked read), larger mail piece by piece into the blob store (`streaming.py`), mail over the
   size limit its headers only; what it holds in memory is reserved from the process-wide byte
   budget first;
4. `_publish` every mail (or quarantine it as too large), each confirmed by the broker, the
   batch's confirms awaited together; the poisoned mail is quarantined as unreadable;
5. `_record` the published Message-IDs, then `_finish`: the after-read action on the server.

The caller moves the checkpoint past the batch only after all of that.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from postroom_fetcher.adapters.imap import ImapBody, ImapMailbox
from postroom_fetcher.adapters.threads import AccountThread
from postroom_fetcher.domain.errors import MailboxError
from postroom_fetcher.domain.origin import Origin
from postroom_fetcher.domain.plan import (
    SizeSplit,
    dedupe_key,
    header_block,
    msgid_namespace,
    split_by_size,
)
from postroom_fetcher.domain.poison import (
    POISON_STRIKES,
    imap_strike_id,
    strike_namespace,
    unreadable_headers,
    unreadable_reason,
)
from postroom_fetcher.sync.deps import SyncDeps
from postroom_fetcher.sync.oversize import quarantine_headers, quarantine_too_large
from postroom_fetcher.sync.publish import publish_mail
from postroom_fetcher.sync.streaming import Streamed, stream_to_blob
from postroom_fetcher.sync.strikes import add_strikes, count_strikes
from postroom_shared.logs import bind, get_logger
from postroom_shared.models import EmailAccount

__all__ = ["ImapBatch"]

log = get_logger(__name__)
type Fetch = Callable[[list[int]], dict[int, bytes]]


@dataclass
class ImapBatch:
    """One batch: its context, and what each step leaves for the next."""

    deps: SyncDeps
    account: EmailAccount
    mailbox: ImapMailbox
    run: AccountThread
    uidvalidity: int
    sizes: dict[int, int]  # RFC822.SIZE by UID of the mail still to publish (steps 1-2 shrink it)
    listed: dict[int, int] = field(default_factory=dict)  # the sizes before step 2
    strikes: dict[int, int] = field(default_factory=dict)  # by UID, as the batch began
    counted: dict[str, int] = field(default_factory=dict)  # by strike id, kept up to date
    poisoned: list[int] = field(default_factory=list)
    seen_uids: list[int] = field(default_factory=list)  # published before the UIDVALIDITY change
    headers: dict[int, bytes] = field(default_factory=dict)
    bodies: dict[int, bytes] = field(default_factory=dict)
    stored: dict[int, Streamed] = field(default_factory=dict)

    @property
    def limit(self) -> int:
        return self.deps.limit(self.account)

    async def handle(self, *, rescan: bool) -> tuple[int, bool]:
        """(mails handled, whether any of them had strikes)."""
        await self._drop_poisoned()
        self.listed = dict(self.sizes)
        if rescan:
            await self._skip_published()
        split = split_by_size(self.sizes, limit=self.limit, inline_max=self.deps.inline_max_bytes)
        # Mail held whole stays in memory until its publish is confirmed: reserve it first.
        held = sum(self.sizes[uid] for uid in split.whole)
        held += self.deps.chunk_bytes if split.streamed else 0
        uids = sorted(self.sizes)
        async with self.deps.memory.hold(held):
            await self._download(split)
            # The batch's publishes wait for their confirms together, not one after the other.
            keys = await asyncio.gather(*(self._publish(uid) for uid in uids))
            self.bodies.clear()
        await asyncio.gather(*(self._quarantine_unreadable(uid) for uid in self.poisoned))
        handled = [uid for uid, key in zip(uids, keys, strict=True) if key is not None]
        if handled:
            log.info(
                "batch published", mails=len(handled), first_uid=handled[0], last_uid=handled[-1]
            )
        await self._record([key for key in keys if key is not None])
        self.deps.crash("after_publish")
        await self._finish(handled)
        self.deps.crash("after_finish")
        return len(handled) + len(self.poisoned), any(self.strikes.values())

    async def _drop_poisoned(self) -> None:
        ids = [imap_strike_id(self.uidvalidity, uid) for uid in sorted(self.sizes)]
        self.counted = await count_strikes(self.deps.store, self.account.id, self._struck_ns, ids)
        self.strikes = {int(key.rsplit("/", 1)[1]): n for key, n in self.counted.items()}
        self.poisoned = sorted(uid for uid, n in self.strikes.items() if n >= POISON_STRIKES)
        for uid in self.poisoned:
            del self.sizes[uid]

    async def _skip_published(self) -> None:
        self.headers = await self._guarded(self.mailbox.headers, sorted(self.sizes))
        keys = {uid: dedupe_key(block) for uid, block in self.headers.items()}
        namespace = msgid_namespace(self.account.folder)
        seen = await self.deps.store.seen_keys(
            self.account.id, namespace, sorted(set(keys.values()))
        )
        self.seen_uids = [uid for uid, key in keys.items() if key in seen]
        for uid in self.seen_uids:
            del self.sizes[uid]

    async def _download(self, split: SizeSplit) -> None:
        self.bodies.update(await self._guarded(self.mailbox.bodies, split.whole))
        for uid in split.streamed:
            await self._stream(uid)
        missing = [uid for uid in split.too_large if uid not in self.headers]
        self.headers.update(await self._guarded(self.mailbox.headers, missing))

    async def _guarded(self, fetch: Fetch, uids: list[int]) -> dict[int, bytes]:
        """`fetch` in one call, or one UID at a time once any of them struck before."""
        careful = any(self.strikes.get(uid) for uid in uids)
        found: dict[int, bytes] = {}
        for group in [[uid] for uid in uids] if careful else [uids] if uids else []:
            try:
                found.update(await self.run(fetch, group))
            except MailboxError as exc:
                await self._strike(exc, group)
                raise
        return found

    async def _stream(self, uid: int) -> None:
        """One mail into the blob store, piece by piece."""
        body = ImapBody(self.mailbox, uid, self.deps.chunk_bytes)
        what = f"{self.account.folder} UID {uid}"
        try:
            one = await stream_to_blob(
                self.deps.store, self.run, body, limit=self.limit, what=what, crash=self.deps.crash
            )
        except MailboxError as exc:
            await self._strike(exc, [uid])
            raise
        if one is not None:  # else expunged meanwhile
            self.stored[uid] = one

    async def _strike(self, exc: MailboxError, uids: list[int]) -> None:
        if exc.kind == "protocol":  # the server failed, not the network
            ids = [imap_strike_id(self.uidvalidity, uid) for uid in uids]
            await add_strikes(self.deps.store, self.account.id, self._struck_ns, ids, self.counted)

    async def _publish(self, uid: int) -> str | None:
        """Publish (or quarantine) one mail; its dedupe key, or None when it vanished."""
        origin = self._origin(uid)
        with bind(mail_key=origin.mail_key, correlation_id=origin.mail_key):
            if uid in self.stored:
                await publish_mail(self.deps.outlet, origin, self.stored[uid].blob)
                return dedupe_key(self.stored[uid].headers)
            if uid in self.bodies:
                await publish_mail(self.deps.outlet, origin, self.bodies[uid])
                return dedupe_key(header_block(self.bodies[uid]))
            if self.sizes[uid] > self.limit and uid in self.headers:
                size, limit = self.sizes[uid], self.limit
                await quarantine_too_large(
                    self.deps.outlet, origin, headers=self.headers[uid], size=size, limit=limit
                )
                log.warning("mail over the size limit quarantined", size=size, limit=limit)
                return dedupe_key(self.headers[uid])
            return None  # expunged by somebody else between the size and the download

    async def _quarantine_unreadable(self, uid: int) -> None:
        origin = self._origin(uid)
        where = f"{self.account.folder} UIDVALIDITY {self.uidvalidity} UID {uid}"
        with bind(mail_key=origin.mail_key, correlation_id=origin.mail_key):
            await quarantine_headers(
                self.deps.outlet,
                origin,
                headers=unreadable_headers(where),
                size=None,
                reason=unreadable_reason(f"message UID {uid}"),
                too_large=False,
            )
            log.error("mail the server cannot hand out quarantined and skipped", uid=uid)

    async def _record(self, published_keys: list[str]) -> None:
        """Remember the Message-IDs, for the rescan after a UIDVALIDITY change."""
        if published_keys:
            namespace = msgid_namespace(self.account.folder)
            await self.deps.store.add_seen_keys(self.account.id, namespace, published_keys)

    async def _finish(self, handled: list[int]) -> None:
        # Mail over the limit stays in the mailbox untouched: only its headers were kept, so
        # deleting (or marking) it would lose the one whole copy. The checkpoint still moves
        # past it.
        done = handled + self.seen_uids
        finished = [uid for uid in done if self.listed.get(uid, 0) <= self.limit]
        await self.run(self.mailbox.finish, sorted(finished), self.account.after_read)

    @property
    def _struck_ns(self) -> str:
        return strike_namespace(self.account.folder)

    def _origin(self, uid: int) -> Origin:
        return Origin.imap(self.account.id, self.account.folder, self.uidvalidity, uid)
