"""Polling mailboxes without losing or duplicating mail (DESIGN.md §4).

Per batch: download (BODY.PEEK, so nothing is marked read) → raw to the blob store when large
→ publish `mail.received.v1` and wait for the broker's confirm → only then delete/flag the mail
on the server → only then advance the (UIDVALIDITY, last UID) checkpoint. A crash anywhere
re-publishes at most the current batch; the converter dedupes by mail key.
"""

import asyncio
import random
from dataclasses import dataclass, field

from faststream.rabbit import RabbitBroker

from postroom_fetcher.adapters.imap import FetchedMail, ImapMailbox
from postroom_fetcher.crashpoints import crash_point
from postroom_fetcher.settings import FetcherSettings
from postroom_shared.errors import PermanentError
from postroom_shared.ingest import imap_mail_key as mail_key
from postroom_shared.ingest import publish_raw_mail
from postroom_shared.logs import bind, get_logger
from postroom_shared.models import Checkpoint, EmailAccount
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store

__all__ = ["Fetcher", "mail_key"]

SOURCE = "fetcher"
log = get_logger(__name__)


@dataclass
class Fetcher:
    store: Store
    broker: RabbitBroker
    secrets: SecretBox
    settings: FetcherSettings
    _tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    async def poll_once(self, account: EmailAccount) -> int:
        """Fetch and publish everything new in `account`'s folder; returns how many mails."""
        box = account.box
        password = self.secrets.decrypt(box.password_enc) if box.password_enc else ""
        mailbox = ImapMailbox(box, password, timeout_s=self.settings.network_timeout_s)
        try:
            uidvalidity = await asyncio.to_thread(mailbox.connect)
            checkpoint = await self.store.get_checkpoint(account.id, box.folder)
            after = (
                checkpoint.last_uid if checkpoint and checkpoint.uidvalidity == uidvalidity else 0
            )
            uids = await asyncio.to_thread(mailbox.new_uids, after)
            done = 0
            for start in range(0, len(uids), self.settings.fetch_batch):
                batch = uids[start : start + self.settings.fetch_batch]
                if start:
                    crash_point("mid_download")
                fetched = await asyncio.to_thread(
                    mailbox.fetch, batch, max_bytes=self.settings.max_mail_bytes
                )
                published = [m.uid for m in fetched if await self._publish(account, uidvalidity, m)]
                crash_point("after_publish")
                await asyncio.to_thread(mailbox.finish, published, account.after_read)
                crash_point("after_finish")
                await self.store.set_checkpoint(
                    Checkpoint(
                        account_id=account.id,
                        folder=box.folder,
                        uidvalidity=uidvalidity,
                        last_uid=batch[-1],
                    )
                )
                crash_point("after_checkpoint")
                done += len(published)
            return done
        finally:
            await asyncio.to_thread(mailbox.close)

    async def _publish(self, account: EmailAccount, uidvalidity: int, mail: FetchedMail) -> bool:
        key = mail_key(account.id, account.folder, uidvalidity, mail.uid)
        with bind(mail_key=key, correlation_id=key):
            if mail.raw is None:
                log.error(
                    "mail over the size limit left on the server",
                    size=mail.size,
                    limit=self.settings.max_mail_bytes,
                )
                return False
            await publish_raw_mail(
                self.store,
                self.broker,
                account_id=account.id,
                raw=mail.raw,
                mail_key=key,
                source=SOURCE,
                inline_max_bytes=self.settings.inline_max_bytes,
                folder=account.folder,
                uidvalidity=uidvalidity,
                uid=mail.uid,
            )
            log.info("mail published", size=len(mail.raw))
            return True

    async def account_loop(self, account_id: str) -> None:
        """Poll one account forever, backing off (with jitter) while it fails."""
        failures = 0
        while True:
            account = await self.store.get_account(account_id)
            if account is None or not account.active:
                return
            with bind(account=account.name):
                try:
                    count = await self.poll_once(account)
                    if count:
                        log.info("poll done", mails=count)
                    failures = 0
                    delay = account.poll_interval_s
                except PermanentError as exc:
                    failures += 1
                    delay = min(300.0, account.poll_interval_s * 2**failures)
                    log.error("poll failed", error=str(exc), retry_in_s=round(delay, 1))
                except Exception as exc:
                    failures += 1
                    delay = min(300.0, 2.0**failures)
                    log.warning("poll failed", error=repr(exc), retry_in_s=round(delay, 1))
            await asyncio.sleep(delay * random.uniform(0.9, 1.1))

    async def supervise(self) -> None:
        """Keep one poll task per active IMAP account, following configuration changes."""
        while True:
            try:
                active = {a.id for a in await self.store.list_accounts(active_only=True)}
                for account_id in active - self._tasks.keys():
                    self._tasks[account_id] = asyncio.create_task(self.account_loop(account_id))
                for account_id, task in list(self._tasks.items()):
                    if task.done() or account_id not in active:
                        task.cancel()
                        del self._tasks[account_id]
            except Exception as exc:
                log.warning("account list refresh failed", error=repr(exc))
            await asyncio.sleep(self.settings.accounts_refresh_s)
