"""F9 under SIGKILL: the real fetcher process dies at each crash point, starts again, and every
mail reaches the converter's input exactly once in effect (distinct mail keys), none lost.

At the moment of each kill we also check the invariant that makes this possible: a mail missing
from the server was published (confirmed) before it was deleted. IMAP and POP3 both.
"""

import asyncio
import poplib
import signal
import uuid
from pathlib import Path

import pytest

from postroom_fetcher.domain.origin import pop3_mail_key
from postroom_shared.ingest import imap_mail_key
from postroom_shared.store import open_store
from tests.fetcher_proc import (
    MailTap,
    append_mails,
    mail_account,
    make_mail,
    start_fetcher,
    uids_in,
    wait_until,
)
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack

MAILS = 7
POP3_USER = "customer"  # the POP3 tests' user: nobody else reads or fills its INBOX
BATCH = 3  # 7 mails = batches of 3, 3 and 1: every crash point is passed more than once


@pytest.mark.parametrize(
    "crash_at",
    [
        "mid_download:1",  # between two batches' downloads
        "after_publish:2",  # second batch confirmed by the broker, not yet deleted
        "after_finish:2",  # second batch deleted on the server, checkpoint not yet advanced
        "after_checkpoint:1",
    ],
)
async def test_killed_fetcher_loses_and_duplicates_nothing(
    stack: StackEnv, tmp_path: Path, crash_at: str
) -> None:
    folder = f"k{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(
        append_mails, stack, folder, [make_mail(n, tag=folder) for n in range(MAILS)]
    )
    uidvalidity, uids = uids_in(stack, folder)
    account = mail_account(stack, folder)
    store_url = f"sqlite:///{tmp_path / 'postroom.db'}"
    store = await open_store(store_url)
    await store.put_account(account)

    def key(uid: int) -> str:
        return imap_mail_key(account.id, folder, uidvalidity, uid)

    expected = {key(uid) for uid in uids}
    log = tmp_path / "fetcher.log"
    try:
        async with MailTap(stack.amqp_url, account.id) as tap:
            crashed = start_fetcher(stack, store_url, log, crash_at=crash_at, batch=BATCH)
            code = await asyncio.to_thread(crashed.wait, 60)
            assert code == -signal.SIGKILL, f"no kill at {crash_at}:\n{crashed.log()}"
            await tap.settle(0.5)
            _, left = uids_in(stack, folder)
            deleted = {key(uid) for uid in uids if uid not in left}
            assert deleted <= tap.keys, "a mail was deleted from the server before its publish"
            published_at_kill = len(tap.events)
            # the kill really fell inside the window its name promises
            if crash_at.startswith("after_publish"):
                still_there = {key(uid) for uid in left}
                assert tap.keys & still_there, "no mail published and still on the server"
            if crash_at.startswith("after_finish"):
                checkpoint = await store.get_checkpoint(account.id, folder)
                last_deleted = max(uid for uid in uids if uid not in left)
                assert checkpoint is None or checkpoint.last_uid < last_deleted

            restarted = start_fetcher(stack, store_url, log, batch=BATCH)
            try:
                await tap.wait_for_keys(expected, 60)

                async def checkpoint_at_last_uid() -> bool:
                    checkpoint = await store.get_checkpoint(account.id, folder)
                    return checkpoint is not None and checkpoint.last_uid == uids[-1]

                await wait_until(checkpoint_at_last_uid, 30, "checkpoint at the last UID")
                await wait_until(lambda: not uids_in(stack, folder)[1], 30, "mailbox empty")
                await tap.settle(1.0)  # a late duplicate would show up here
                assert restarted.alive(), restarted.log()
            finally:
                assert restarted.stop() == 0, restarted.log()
        final = await store.get_checkpoint(account.id, folder)
    finally:
        await store.close()

    republished = tap.republished
    print(
        f"{crash_at}: {len(tap.keys)} mails, {published_at_kill} events before the kill, "
        f"{republished} re-published after the restart (the converter dedupes them by mail key)"
    )
    assert tap.keys == expected, f"lost: {sorted(expected - tap.keys)}"
    assert republished <= BATCH, (
        f"{republished} raw duplicates: more than one batch re-published (duplicates are"
        " allowed only because the converter dedupes by mail key; a crash may repeat at most"
        " the batch in flight)"
    )
    assert final is not None
    assert (final.uidvalidity, final.last_uid) == (uidvalidity, uids[-1])


def _pop3_uidls(stack: StackEnv, *, delete_all: bool = False) -> list[str]:
    """UIDLs in the POP3 user's INBOX (optionally emptying it first)."""
    pop = poplib.POP3("127.0.0.1", stack.pop3_port, timeout=10)
    try:
        pop.user(f"{POP3_USER}@example.test")
        pop.pass_(POP3_USER)
        listing = [line.split()[1].decode() for line in pop.uidl()[1]]
        if delete_all:
            for number in range(1, len(listing) + 1):
                pop.dele(number)
            listing = []
    finally:
        pop.quit()
    return listing


@pytest.mark.parametrize(
    "crash_at", ["mid_download:1", "after_publish:2", "after_finish:2", "after_checkpoint:1"]
)
async def test_killed_pop3_fetcher_loses_and_duplicates_nothing(
    stack: StackEnv, tmp_path: Path, crash_at: str
) -> None:
    """POP3 deletes only at QUIT, so a killed session deletes nothing; the UIDLs recorded as
    seen decide what the next session skips (and deletes)."""
    await asyncio.to_thread(_pop3_uidls, stack, delete_all=True)
    tag = uuid.uuid4().hex[:8]
    await asyncio.to_thread(
        append_mails, stack, "INBOX", [make_mail(n, tag=tag) for n in range(MAILS)], POP3_USER
    )
    uidls = _pop3_uidls(stack)
    account = mail_account(stack, f"p{tag}", user=POP3_USER, provider="pop3")
    store_url = f"sqlite:///{tmp_path / 'postroom.db'}"
    store = await open_store(store_url)
    await store.put_account(account)
    expected = {pop3_mail_key(account.id, uidl) for uidl in uidls}
    log = tmp_path / "fetcher.log"
    try:
        async with MailTap(stack.amqp_url, account.id) as tap:
            crashed = start_fetcher(stack, store_url, log, crash_at=crash_at, batch=BATCH)
            code = await asyncio.to_thread(crashed.wait, 60)
            assert code == -signal.SIGKILL, f"no kill at {crash_at}:\n{crashed.log()}"
            await tap.settle(0.5)
            assert _pop3_uidls(stack) == uidls, "a killed POP3 session deleted mail"
            published_at_kill = len(tap.events)

            restarted = start_fetcher(stack, store_url, log, batch=BATCH)
            try:
                await tap.wait_for_keys(expected, 60)
                await wait_until(lambda: not _pop3_uidls(stack), 30, "mailbox empty")
                await tap.settle(1.0)
                assert restarted.alive(), restarted.log()
            finally:
                assert restarted.stop() == 0, restarted.log()
        remembered = await store.seen_keys(account.id, "uidl", uidls)
    finally:
        await store.close()
    ours = [event for event in tap.events if event.mail_key in expected]
    republished = len(ours) - len(expected)
    print(
        f"pop3 {crash_at}: {len(expected)} mails, {published_at_kill} events before the kill,"
        f" {republished} re-published after the restart (the converter dedupes by mail key)"
    )
    assert tap.keys >= expected, f"lost: {sorted(expected - tap.keys)}"
    assert republished <= BATCH, (
        f"{republished} raw duplicates: more than the batch in flight (duplicates are allowed"
        " only because the converter dedupes by mail key)"
    )
    assert remembered == set(), "UIDLs of deleted mail are pruned from the seen keys"
