"""The running fetcher: IMAP IDLE (mail within 2 s, reconnect after the server kicks us),
and one bad account never slowing the others, with a visible state per account."""

import asyncio
import socket
from collections.abc import Iterator

import pytest

from postroom_fetcher.service import Fetcher
from postroom_fetcher.settings import FetcherSettings
from postroom_shared.contracts import AccountStateV1, MailReceivedV1
from postroom_shared.models import AccountState
from postroom_shared.store import Store
from tests.integration.fetcher_helpers import (
    BOX,
    FAST,
    account,
    broker_and_tap,
    dovecot_conf,
    empty_inbox,
    imap,
    mail,
    new_folder,
    settings,
    wait_for,
)
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    return sqlite_store


def fast_settings(stack: StackEnv, url: str, **extra: float) -> FetcherSettings:
    return settings(stack, url, **{**FAST, **extra})


async def _state(store: Store, account_id: str) -> AccountState | None:
    return await store.get_account_state(account_id)


async def test_idle_publishes_within_two_seconds_and_survives_a_kick(
    stack: StackEnv, store: Store, sqlite_url: str
) -> None:
    empty_inbox(stack, "bob")
    acc = account(stack, user="bob", poll_interval_s=3600)
    await store.put_account(acc)
    cfg = fast_settings(stack, sqlite_url, idle_reissue_s=3.0)
    async with broker_and_tap(stack, sqlite_url, "mail.received.v1") as (broker, tap):
        fetcher = Fetcher(store=store, broker=broker, secrets=BOX, settings=cfg)
        task = asyncio.create_task(fetcher.supervise())
        try:

            async def idling() -> bool:
                state = await _state(store, acc.id)
                return state is not None and state.mode == "idle"

            assert await wait_for(idling)
            await asyncio.sleep(0.5)  # inside IDLE now
            loop = asyncio.get_running_loop()
            started = loop.time()
            with imap(stack, "bob") as client:
                client.append("INBOX", mail("while idling"))
            first = await tap.collect("mail.received.v1", 1, timeout_s=2.0, settle_s=0.0)
            assert len(first) == 1, "IDLE did not deliver within 2 s"
            assert loop.time() - started < 2.0

            async def finished() -> bool:
                checkpoint = await store.get_checkpoint(acc.id, "INBOX")
                return checkpoint is not None and checkpoint.last_uid >= 1

            # A drop between publish and delete would re-publish under the same key (the
            # converter dedupes); here the point is that nothing arriving later is lost.
            assert await wait_for(finished)
            # The server drops every connection of bob's; mail arrives meanwhile.
            kick = await asyncio.create_subprocess_exec(
                "doveadm",
                "-c",
                dovecot_conf(stack),
                "kick",
                "bob@example.test",
                stdout=asyncio.subprocess.DEVNULL,
            )
            assert await kick.wait() == 0
            with imap(stack, "bob") as client:
                client.append("INBOX", mail("during the reconnect"))
            await asyncio.sleep(4.0)  # also spans an IDLE re-issue (every 3 s here)
            with imap(stack, "bob") as client:
                client.append("INBOX", mail("after the reconnect"))
            events = await tap.collect("mail.received.v1", 3, timeout_s=15.0, settle_s=2.0)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    parsed = [MailReceivedV1.model_validate_json(body) for body in events]
    assert len(parsed) == 3, [e.mail_key for e in parsed]
    assert len({e.mail_key for e in parsed}) == 3
    state = await _state(store, acc.id)
    assert state is not None and state.status == "ok" and state.mode == "idle"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never says a word (a hung or firewalled server)."""
    server = socket.create_server(("127.0.0.1", 0), backlog=16)
    try:
        yield int(server.getsockname()[1])
    finally:
        server.close()


async def test_one_bad_account_never_slows_the_others(
    stack: StackEnv, store: Store, sqlite_url: str, silent_server: int
) -> None:
    folder = new_folder(stack, "alice", mail("good 1"))
    good = account(stack, user="alice", folder=folder, use_idle=False, poll_interval_s=1.0)
    wrong = account(stack, user="alice", password="wrong", use_idle=False, poll_interval_s=1.0)
    hung = account(stack, user="alice", port=silent_server, use_idle=False, poll_interval_s=1.0)
    for acc in (good, wrong, hung):
        await store.put_account(acc)
    cfg = fast_settings(stack, sqlite_url, network_timeout_s=4.0, max_parallel_fetches=2)
    async with broker_and_tap(stack, sqlite_url, "mail.received.v1", "account.state.v1") as (
        broker,
        tap,
    ):
        fetcher = Fetcher(store=store, broker=broker, secrets=BOX, settings=cfg)
        task = asyncio.create_task(fetcher.supervise())
        try:
            assert len(await tap.collect("mail.received.v1", 1, timeout_s=3.0, settle_s=0)) == 1
            loop = asyncio.get_running_loop()
            for n in (2, 3):
                started = loop.time()
                with imap(stack, "alice") as client:
                    client.append(folder, mail(f"good {n}"))
                got = await tap.collect("mail.received.v1", n, timeout_s=3.0, settle_s=0)
                assert len(got) == n
                assert loop.time() - started < 2.5, "the good account was held up"

            async def both_failed() -> bool:
                a, b = await _state(store, wrong.id), await _state(store, hung.id)
                return bool(a and b and a.failures >= 2 and b.failures >= 1)

            assert await wait_for(both_failed, timeout_s=15)
            await tap.collect("account.state.v1", 2, timeout_s=1.0, settle_s=1.0)
            wrong_state, hung_state, good_state = [
                await _state(store, a.id) for a in (wrong, hung, good)
            ]
            # The admin fixes the password: tried at once, not after the backoff.
            fixed_folder = new_folder(stack, "alice", mail("fixed"))
            fixed = account(stack, user="alice", folder=fixed_folder, use_idle=False)
            await store.put_account(
                wrong.model_copy(update={"mailbox": fixed.mailbox, "poll_interval_s": 1.0})
            )
            got = await tap.collect("mail.received.v1", 4, timeout_s=4.0, settle_s=0.5)
            assert len(got) == 4
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    assert wrong_state is not None and wrong_state.status == "error"
    assert wrong_state.error_kind == "auth" and "Authentication failed" in (
        wrong_state.last_error or ""
    )
    assert wrong_state.since is not None and wrong_state.next_attempt is not None
    assert hung_state is not None and hung_state.error_kind == "network"
    assert good_state is not None and good_state.status == "ok" and good_state.mode == "poll"
    states = [
        AccountStateV1.model_validate_json(body)
        for key, body in tap.seen
        if key == "account.state.v1"
    ]
    # one event per status change, not one per failed attempt
    assert sorted((s.account_id, s.status) for s in states) == sorted(
        [(wrong.id, "error"), (hung.id, "error"), (wrong.id, "ok")]
    )
    recovered = await _state(store, wrong.id)
    assert recovered is not None and recovered.status == "ok" and recovered.failures == 0
