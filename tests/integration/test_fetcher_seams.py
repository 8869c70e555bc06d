"""The fetcher's seams on the real Dovecot, RabbitMQ and SQLite: the crash hook is called at
every named place of a pass (the kill tests SIGKILL the process there), and `publish_mail`,
the one way a fetched or pushed mail is published, names the mail as its origin says."""

from collections.abc import AsyncIterator

import pytest

from postroom_fetcher.domain.origin import Origin
from postroom_fetcher.service import Fetcher
from postroom_fetcher.sync.hooks import CrashPoint
from postroom_fetcher.sync.outlet import Outlet
from postroom_fetcher.sync.publish import publish_mail
from postroom_shared.contracts import MailReceivedV1
from postroom_shared.ingest import store_stream
from postroom_shared.store import Store
from tests.integration.fetcher_helpers import (
    BOX,
    account,
    broker_and_tap,
    mail,
    new_folder,
    settings,
)
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack

CHUNK = 16 * 1024  # the smallest fetch_chunk_bytes


async def test_the_crash_hook_is_called_at_every_seam_of_an_imap_pass(
    stack: StackEnv, sqlite_store: Store, sqlite_url: str
) -> None:
    # 7 mails in batches of 3, 3 and 1; the first batch holds one mail streamed in pieces
    mails = [mail(f"seam {n}", size=3 * CHUNK if n == 1 else 100) for n in range(7)]
    folder = new_folder(stack, "alice", *mails)
    acc = account(stack, user="alice", folder=folder)
    cfg = settings(
        stack, sqlite_url, fetch_batch=3, inline_max_bytes=CHUNK, fetch_chunk_bytes=CHUNK
    )
    calls: list[CrashPoint] = []
    async with broker_and_tap(stack, sqlite_url, "mail.received.v1") as (broker, tap):
        fetcher = Fetcher(
            store=sqlite_store, broker=broker, secrets=BOX, settings=cfg, crash=calls.append
        )
        assert await fetcher.poll_once(acc) == 7
        assert len(await tap.collect("mail.received.v1", 7)) == 7
    batch = ["after_publish", "after_finish", "after_checkpoint"]
    streamed = calls.count("mid_stream")
    print(f"crash hook calls: {len(calls)}, of them mid_stream: {streamed}")
    assert streamed >= 3  # one per piece of the 48 KiB mail
    assert calls[:streamed] == ["mid_stream"] * streamed  # inside the first batch's download
    assert calls[streamed:] == [*batch, "mid_download", *batch, "mid_download", *batch]


async def test_the_default_hook_does_nothing(
    stack: StackEnv, sqlite_store: Store, sqlite_url: str
) -> None:
    folder = new_folder(stack, "alice", mail("no hook"), mail("no hook either"))
    acc = account(stack, user="alice", folder=folder)
    async with broker_and_tap(stack, sqlite_url) as (broker, _):
        cfg = settings(stack, sqlite_url, fetch_batch=1)
        fetcher = Fetcher(store=sqlite_store, broker=broker, secrets=BOX, settings=cfg)
        assert await fetcher.poll_once(acc) == 2


async def test_publish_mail_carries_small_mail_inline_and_large_by_blob(
    stack: StackEnv, sqlite_store: Store, sqlite_url: str
) -> None:
    small, large = mail("small", size=100), mail("large", size=4000)
    imap_origin = Origin.imap("acc_pub", "Support", 7, 42)
    push_origin = Origin.push("acc_pub", large)
    async with broker_and_tap(stack, sqlite_url, "mail.received.v1") as (broker, tap):
        fetched = Outlet(sqlite_store, broker, "fetcher", inline_max_bytes=1000)
        pushed = Outlet(sqlite_store, broker, "deliver", inline_max_bytes=1000)
        await publish_mail(fetched, imap_origin, small)
        await publish_mail(pushed, push_origin, large)
        stored = await store_stream(sqlite_store, _pieces(large))  # what streaming leaves
        pop3_origin = Origin.pop3("acc_pub", "uidl-1")
        await publish_mail(fetched, pop3_origin, stored)
        bodies = await tap.collect("mail.received.v1", 3)
    events = {e.mail_key: e for e in map(MailReceivedV1.model_validate_json, bodies)}
    assert set(events) == {"acc_pub/Support/7/42", push_origin.mail_key, "acc_pub/pop3/uidl-1"}
    first = events["acc_pub/Support/7/42"]
    assert (first.source, first.folder, first.uidvalidity, first.uid) == (
        "fetcher",
        "Support",
        7,
        42,
    )
    assert (first.raw_inline, first.blob_ref) == (small, None)
    second = events[push_origin.mail_key]
    assert (second.source, second.folder, second.uid, second.raw_inline) == (
        "deliver",
        "INBOX",
        None,
        None,
    )
    assert second.blob_ref is not None
    assert await sqlite_store.get_blob(second.blob_ref) == large
    third = events["acc_pub/pop3/uidl-1"]
    assert (third.blob_ref, third.size, third.sha256) == (stored.ref, stored.size, stored.sha256)


async def _pieces(raw: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(raw), 1000):
        yield raw[start : start + 1000]
