"""One account's fetch loop over time, run while this replica holds the account's lease (which
accounts run is the supervisor's business; what one sync does is `sync/`).

Connect → sync → then either IDLE on the same connection (server supports it and the account
wants it) or close and wait `poll_interval_s`. Every failure is recorded in the account's
state with its cause and a backoff with jitter; `account.state.v1` goes out when the status
changes. The account's blocking I/O runs on its own thread, and downloads share a
replica-wide semaphore, so one slow or broken account never holds up the others, and a
replica-wide byte budget for the mail they hold in memory.
"""

import asyncio
import contextlib
import random
from dataclasses import dataclass
from datetime import datetime
from typing import NoReturn

from faststream.rabbit import RabbitBroker

from postroom_fetcher.adapters.idle import idle_until_change
from postroom_fetcher.adapters.imap import ImapMailbox
from postroom_fetcher.adapters.mailbox import Mailbox, MailboxAccess
from postroom_fetcher.adapters.pop3 import Pop3Mailbox
from postroom_fetcher.adapters.threads import AccountThread
from postroom_fetcher.domain.errors import MailboxError
from postroom_fetcher.domain.state import (
    BackoffPolicy,
    Failure,
    after_failure,
    after_success,
    mailbox_failure,
    state_write_due,
    status_changed,
)
from postroom_fetcher.settings import FetcherSettings
from postroom_fetcher.store import FetcherStore
from postroom_fetcher.sync.deps import SyncDeps
from postroom_fetcher.sync.imap import sync_imap_folder
from postroom_fetcher.sync.pop3 import sync_pop3
from postroom_shared.contracts import AccountStateV1, deterministic_event_id
from postroom_shared.logs import bind, get_logger
from postroom_shared.messaging import publish_event
from postroom_shared.models import AccountState, EmailAccount, utcnow

__all__ = ["AccountWorker", "WorkerDeps", "sync_mailbox"]

log = get_logger(__name__)
STABLE_IDLE_S = 60.0  # an IDLE connection that lived this long may drop without a failure


@dataclass(frozen=True)
class WorkerDeps:
    """What every account worker of the process shares (built by `service.Fetcher`)."""

    store: FetcherStore
    broker: RabbitBroker
    access: MailboxAccess
    settings: FetcherSettings
    slots: asyncio.Semaphore  # accounts downloading at once, across the process
    sync: SyncDeps

    @property
    def policy(self) -> BackoffPolicy:
        s = self.settings
        return BackoffPolicy(
            base_s=s.backoff_base_s,
            permanent_base_s=s.backoff_permanent_s,
            max_s=s.backoff_max_s,
            reauth_s=s.reauth_retry_s,
        )


async def sync_mailbox(
    deps: SyncDeps, account: EmailAccount, mailbox: Mailbox, run: AccountThread
) -> int:
    """One sync of a connected mailbox, whichever its protocol; returns how many mails were
    handled. A POP3 session ends (QUIT) with its sync; an IMAP connection stays open for IDLE."""
    if isinstance(mailbox, Pop3Mailbox):
        return await sync_pop3(deps, account, mailbox, run)
    return await sync_imap_folder(deps, account, mailbox, run)


class AccountWorker:
    def __init__(self, deps: WorkerDeps, account_id: str, *, honour_backoff: bool = True) -> None:
        self.deps = deps
        self.account_id = account_id
        self.honour_backoff = honour_backoff  # False after a config change: try it at once
        self.wake = asyncio.Event()
        self._state: AccountState | None = None
        self._written_at = 0.0

    async def run(self) -> None:
        """Fetch until the account is deactivated or deleted (or the task is cancelled)."""
        store = self.deps.store
        self._state = await store.get_account_state(self.account_id)
        thread = AccountThread(self.account_id)
        try:
            await self._respect_stored_backoff()
            while True:
                account = await store.get_account(self.account_id)
                if account is None or not account.active or account.provider == "push":
                    return
                with bind(account=account.name, account_id=account.id):
                    delay = await self._attempt(account, thread)
                await self._sleep(delay)
        finally:
            thread.shutdown()

    async def _respect_stored_backoff(self) -> None:
        # A restart or another replica must not hammer a server that asked us to back off.
        state = self._state
        if self.honour_backoff and state and state.status != "ok" and state.next_attempt:
            await self._sleep((state.next_attempt - utcnow()).total_seconds())

    async def _attempt(self, account: EmailAccount, thread: AccountThread) -> float:
        """One connection's life; returns the seconds to wait before the next one."""
        mailbox: Mailbox | None = None
        try:
            # Connecting holds no download slot: a hung server only ever delays itself.
            mailbox = await self.deps.access.open(account, thread)
            async with self.deps.slots:
                count = await sync_mailbox(self.deps.sync, account, mailbox, thread)
                idle = isinstance(mailbox, ImapMailbox) and await self._wants_idle(
                    account, mailbox, thread
                )
            if count:
                log.info("fetched", mails=count)
            await self._succeeded("idle" if idle else "poll")
            if isinstance(mailbox, ImapMailbox) and idle:
                return await self._idle_session(account, mailbox, thread)
            return account.poll_interval_s
        except MailboxError as exc:
            return await self._failed(self._failure(account, exc))
        except asyncio.CancelledError:
            if mailbox is not None:
                mailbox.abort()
                thread.submit(mailbox.close)
                mailbox = None
            raise
        except Exception as exc:  # broker or store trouble: retried like a network error
            log.exception("fetch failed unexpectedly")
            return await self._failed(Failure("internal", repr(exc), permanent=False))
        finally:
            if mailbox is not None:
                await thread(mailbox.close)

    @staticmethod
    async def _wants_idle(
        account: EmailAccount, mailbox: ImapMailbox, thread: AccountThread
    ) -> bool:
        return account.use_idle and await thread(mailbox.supports_idle)

    def _failure(self, account: EmailAccount, exc: MailboxError) -> Failure:
        tokens = self.deps.access.tokens
        oauth = account.oauth is not None and tokens is not None
        if exc.kind == "auth" and tokens is not None and account.oauth is not None:
            tokens.forget(account.id)  # a refused token is not used again
        ok_before = self._state is None or self._state.status == "ok"
        return mailbox_failure(
            exc.kind, str(exc), permanent=exc.permanent, oauth=oauth, ok_before=ok_before
        )

    async def _idle_session(
        self, account: EmailAccount, mailbox: ImapMailbox, thread: AccountThread
    ) -> float:
        """IDLE until the connection breaks. Servers drop long IDLE connections routinely:
        after a long healthy session that is no failure (no error state, no event), just a
        reconnect at once; a connection that breaks soon again counts as a failure."""
        started = asyncio.get_running_loop().time()
        try:
            await self._idle(account, mailbox, thread)
        except MailboxError as exc:
            lasted = asyncio.get_running_loop().time() - started
            if exc.kind != "network" or lasted < STABLE_IDLE_S:
                raise
            log.info("IDLE connection lost, reconnecting", error=str(exc), lasted_s=round(lasted))
            return 0.0

    async def _idle(
        self, account: EmailAccount, mailbox: ImapMailbox, thread: AccountThread
    ) -> NoReturn:
        """IDLE and sync on one connection until something fails (the caller reconnects)."""
        s = self.deps.settings
        # Re-issuing IDLE also syncs: every poll interval that is a safety net for a
        # notification the server never sent.
        reissue_s = min(s.idle_reissue_s, account.poll_interval_s)
        while True:
            why = await idle_until_change(
                mailbox, thread, wake=self.wake, reissue_s=reissue_s, check_s=s.idle_check_s
            )
            async with self.deps.slots:
                count = await sync_imap_folder(self.deps.sync, account, mailbox, thread)
            if count:
                log.info("fetched", mails=count, woken_by=why)
            await self._succeeded("idle")

    async def _sleep(self, seconds: float) -> None:
        """Wait, unless a 'fetch now' or a new authorisation wakes the worker earlier."""
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=seconds)
        self.wake.clear()

    async def _succeeded(self, mode: str) -> None:
        previous = self._state
        now = utcnow()
        state = after_success(
            previous, self.account_id, now=now, mode="idle" if mode == "idle" else "poll"
        )
        age_s = asyncio.get_running_loop().time() - self._written_at
        if state_write_due(previous, state, age_s=age_s):
            await self._record(previous, state, now)

    async def _failed(self, failure: Failure) -> float:
        previous = self._state
        now = utcnow()
        state = after_failure(
            previous,
            self.account_id,
            failure,
            now=now,
            policy=self.deps.policy,
            jitter=random.random(),
        )
        await self._record(previous, state, now)
        delay = (state.next_attempt - now).total_seconds() if state.next_attempt else 0.0
        log.warning(
            "fetch failed",
            error=failure.message,
            kind=failure.kind,
            failures=state.failures,
            retry_in_s=round(delay, 1),
        )
        return delay

    async def _record(
        self, previous: AccountState | None, state: AccountState, now: datetime
    ) -> None:
        self._state = state
        try:
            await self.deps.store.put_account_state(state)
            self._written_at = asyncio.get_running_loop().time()
            if status_changed(previous, state):
                await publish_event(self.deps.broker, _state_event(state, now))
        except Exception:
            log.exception("could not record the account state")


def _state_event(state: AccountState, now: datetime) -> AccountStateV1:
    since = (state.since or now).isoformat()
    return AccountStateV1(
        event_id=deterministic_event_id(state.account_id, "account.state.v1", state.status, since),
        source="fetcher",
        correlation_id=f"account:{state.account_id}",
        account_id=state.account_id,
        status=state.status,
        error_kind=state.error_kind,
        error=state.last_error,
    )
