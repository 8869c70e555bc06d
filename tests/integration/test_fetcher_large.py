"""Large mail through the real fetcher process: batches cut by bytes, mail over the inline
limit streamed into the blob store piece by piece, memory bounded, nothing lost or doubled.

The fetcher used to download a whole batch (20 mails, each up to `max_mail_bytes`) into
memory before publishing it; a crash from that repeated after every restart because the
checkpoint never advanced. Here 30 mails of 4 MB go through one process whose peak resident
memory (VmHWM) must grow by far less than one batch of them, and SIGKILLs in the middle of a
streamed mail lose and duplicate nothing.
"""

import asyncio
import hashlib
import poplib
import random
import signal
import uuid
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from postroom_fetcher.domain.origin import pop3_mail_key
from postroom_shared.contracts import MailReceivedV1
from postroom_shared.ingest import imap_mail_key
from postroom_shared.store import Store, open_store
from tests.fetcher_proc import (
    FetcherProcess,
    MailTap,
    append_mails,
    mail_account,
    start_fetcher,
    uids_in,
    wait_until,
)
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack

MB = 1024 * 1024
POP3_USER = "customer"  # as in test_fetcher_kill: every POP3 test empties this INBOX first


def start_small(
    stack: StackEnv, store_url: str, log: Path, crash_at: str | None = None
) -> FetcherProcess:
    """The fetcher of the kill tests: 3 MB batches (three of their 0.9 MB mails), 256 KiB
    pieces (four per mail)."""
    return start_fetcher(
        stack,
        store_url,
        log,
        crash_at=crash_at,
        POSTROOM_FETCH_BATCH_BYTES=str(3 * MB),
        POSTROOM_FETCH_CHUNK_BYTES=str(256 * 1024),
    )


def big_mail(n: int, size: int, tag: str) -> bytes:
    """A mail of about `size` bytes (a random attachment), CRLF line ends as on the wire, and
    lines that POP3 must byte-stuff (a lone dot, leading dots)."""
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = "customer@example.test"
    msg["To"] = "support@example.test"
    msg["Subject"] = f"large mail {n} {tag}"
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.test>"
    msg.set_content(f"mail {n}\n.a line with a leading dot\n..and two\n.\nthe end\n")
    payload = random.Random(f"{tag}/{n}").randbytes(size * 3 // 4)
    msg.add_attachment(
        payload, maintype="application", subtype="octet-stream", filename=f"big{n}.bin"
    )
    return msg.as_bytes()


def sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


async def check_blobs(
    store: Store, events: list[MailReceivedV1], mails: dict[str, bytes], blob_dir: Path
) -> None:
    """Every event names a blob holding exactly its mail's bytes, and every file stored
    under a blob name is whole (a killed writer leaves temporary files only)."""
    for event in events:
        raw = mails[event.mail_key]
        assert event.raw_inline is None and event.blob_ref == f"sha256:{sha(raw)}"
        assert (event.size, event.sha256) == (len(raw), sha(raw))
        assert await store.get_blob(event.blob_ref) == raw  # get_blob verifies the hash too
    assert await asyncio.to_thread(_damaged_blobs, blob_dir) == []


def _damaged_blobs(blob_dir: Path) -> list[Path]:
    return [path for path in blob_dir.glob("*/*") if sha(path.read_bytes()) != path.name]


def _started(log: Path) -> bool:
    return log.exists() and "service started" in log.read_text(errors="replace")


async def test_large_mail_is_streamed_with_bounded_memory(stack: StackEnv, tmp_path: Path) -> None:
    folder = f"big{uuid.uuid4().hex[:8]}"
    raws = [big_mail(n, 4 * MB, folder) for n in range(30)]
    await asyncio.to_thread(append_mails, stack, folder, raws)
    uidvalidity, uids = uids_in(stack, folder)
    account = mail_account(stack, folder)
    mails = {
        imap_mail_key(account.id, folder, uidvalidity, uid): raw
        for uid, raw in zip(uids, raws, strict=True)
    }
    store_url = f"sqlite:///{tmp_path / 'postroom.db'}"
    store = await open_store(store_url)
    log = tmp_path / "fetcher.log"
    try:
        async with MailTap(stack.amqp_url, account.id) as tap:
            # production defaults: batches of 20 mails / 16 MB, 1 MB pieces, 256 KiB inline
            fetcher = start_fetcher(stack, store_url, log)
            try:
                await wait_until(lambda: _started(log), 60, "fetcher started")
                await asyncio.sleep(1.0)
                idle_kib = fetcher.memory_kib()
                started = asyncio.get_running_loop().time()
                await store.put_account(account)
                await tap.wait_for_keys(set(mails), 300)
                took = asyncio.get_running_loop().time() - started
                await wait_until(lambda: not uids_in(stack, folder)[1], 60, "mailbox empty")
                peak_kib = fetcher.memory_kib()
                await tap.settle(1.0)
                assert fetcher.alive(), fetcher.log()
            finally:
                assert fetcher.stop() == 0, fetcher.log()
        await check_blobs(store, tap.events, mails, tmp_path / "blobs")
        checkpoint = await store.get_checkpoint(account.id, folder)
    finally:
        await store.close()
    growth_mb = (peak_kib - idle_kib) / 1024
    total_mb = sum(map(len, raws)) / MB
    print(
        f"30 mails, {total_mb:.0f} MB in all, fetched in {took:.1f} s: fetcher peak RSS"
        f" {idle_kib / 1024:.0f} MB idle -> {peak_kib / 1024:.0f} MB (+{growth_mb:.0f} MB)"
    )
    assert tap.keys == set(mails) and tap.republished == 0
    assert checkpoint is not None and checkpoint.last_uid == uids[-1]
    # One batch of 20 of these held whole is 80 MB before any copy; streaming holds a piece.
    assert growth_mb < 40, f"peak memory grew by {growth_mb:.0f} MB"


@pytest.mark.parametrize(
    "crash_at",
    [
        "mid_stream:6",  # the second mail of the first batch, half written to the blob store
        "mid_stream:14",  # the first batch done (published, deleted, checkpoint), in the second
        "after_publish:1",  # the first batch confirmed: 3 mails, cut by bytes, not 20 by count
    ],
)
async def test_killed_while_streaming_imap_loses_and_duplicates_nothing(
    stack: StackEnv, tmp_path: Path, crash_at: str
) -> None:
    folder = f"kb{uuid.uuid4().hex[:8]}"
    raws = [big_mail(n, 900_000, folder) for n in range(7)]
    await asyncio.to_thread(append_mails, stack, folder, raws)
    uidvalidity, uids = uids_in(stack, folder)
    account = mail_account(stack, folder)
    mails = {
        imap_mail_key(account.id, folder, uidvalidity, uid): raw
        for uid, raw in zip(uids, raws, strict=True)
    }
    store_url = f"sqlite:///{tmp_path / 'postroom.db'}"
    store = await open_store(store_url)
    await store.put_account(account)
    log = tmp_path / "fetcher.log"
    try:
        async with MailTap(stack.amqp_url, account.id) as tap:
            crashed = start_small(stack, store_url, log, crash_at)
            code = await asyncio.to_thread(crashed.wait, 120)
            assert code == -signal.SIGKILL, f"no kill at {crash_at}:\n{crashed.log()}"
            await tap.settle(0.5)
            left = uids_in(stack, folder)[1]
            deleted = {key for key, uid in zip(mails, uids, strict=True) if uid not in left}
            assert deleted <= tap.keys, "a mail was deleted from the server before its publish"
            published_at_kill = len(tap.events)
            if crash_at.startswith("after_publish"):
                assert published_at_kill == 3, "the first batch is 3 mails of 0.9 MB (3 MB)"

            restarted = start_small(stack, store_url, log)
            try:
                await tap.wait_for_keys(set(mails), 120)
                await wait_until(lambda: not uids_in(stack, folder)[1], 60, "mailbox empty")
                await tap.settle(1.0)
                assert restarted.alive(), restarted.log()
            finally:
                assert restarted.stop() == 0, restarted.log()
        await check_blobs(store, tap.events, mails, tmp_path / "blobs")
        checkpoint = await store.get_checkpoint(account.id, folder)
    finally:
        await store.close()
    print(
        f"imap {crash_at}: {len(mails)} mails, {published_at_kill} published before the kill,"
        f" {tap.republished} re-published after the restart"
    )
    assert tap.keys == set(mails), f"lost: {sorted(set(mails) - tap.keys)}"
    assert tap.republished <= 3, "more than the batch in flight was published again"
    assert checkpoint is not None and checkpoint.last_uid == uids[-1]


def _pop3_uidls(stack: StackEnv, *, delete_all: bool = False) -> list[str]:
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


@pytest.mark.parametrize("crash_at", ["mid_stream:6", "after_publish:1"])
async def test_killed_while_streaming_pop3_loses_and_duplicates_nothing(
    stack: StackEnv, tmp_path: Path, crash_at: str
) -> None:
    """RETR read piece by piece (dot-unstuffed) into the blob store; a kill mid-message
    deletes nothing (DELE waits for QUIT) and the next session streams it again."""
    await asyncio.to_thread(_pop3_uidls, stack, delete_all=True)
    tag = uuid.uuid4().hex[:8]
    raws = [big_mail(n, 900_000, tag) for n in range(7)]
    await asyncio.to_thread(append_mails, stack, "INBOX", raws, POP3_USER)
    uidls = _pop3_uidls(stack)
    account = mail_account(stack, f"p{tag}", user=POP3_USER, provider="pop3")
    mails = {pop3_mail_key(account.id, uidl): raw for uidl, raw in zip(uidls, raws, strict=True)}
    store_url = f"sqlite:///{tmp_path / 'postroom.db'}"
    store = await open_store(store_url)
    await store.put_account(account)
    log = tmp_path / "fetcher.log"
    try:
        async with MailTap(stack.amqp_url, account.id) as tap:
            crashed = start_small(stack, store_url, log, crash_at)
            code = await asyncio.to_thread(crashed.wait, 120)
            assert code == -signal.SIGKILL, f"no kill at {crash_at}:\n{crashed.log()}"
            await tap.settle(0.5)
            assert _pop3_uidls(stack) == uidls, "a killed POP3 session deleted mail"
            published_at_kill = len(tap.events)
            if crash_at.startswith("after_publish"):
                assert published_at_kill == 3, "the first batch is 3 mails of 0.9 MB (3 MB)"

            restarted = start_small(stack, store_url, log)
            try:
                await tap.wait_for_keys(set(mails), 120)
                await wait_until(lambda: not _pop3_uidls(stack), 60, "mailbox empty")
                await tap.settle(1.0)
                assert restarted.alive(), restarted.log()
            finally:
                assert restarted.stop() == 0, restarted.log()
        await check_blobs(store, tap.events, mails, tmp_path / "blobs")
    finally:
        await store.close()
    print(
        f"pop3 {crash_at}: {len(mails)} mails, {published_at_kill} published before the kill,"
        f" {tap.republished} re-published after the restart"
    )
    assert tap.keys == set(mails), f"lost: {sorted(set(mails) - tap.keys)}"
    assert tap.republished <= 3, "more than the batch in flight was published again"
