"""IMAP details against the real Dovecot: TLS modes without downgrade, the size pre-check,
and a UIDVALIDITY change deduped by Message-ID."""

import asyncio
import socket
import threading
from collections.abc import Iterator

import pytest

from postroom_fetcher.domain.errors import MailboxError
from postroom_fetcher.domain.plan import dedupe_key, header_block, msgid_namespace
from postroom_fetcher.domain.poison import POISON_STRIKES, strike_namespace
from postroom_fetcher.service import Fetcher
from postroom_fetcher.sync.strikes import count_strikes
from postroom_shared.contracts import MailQuarantinedV1, MailReceivedV1
from postroom_shared.models import AfterRead, Security
from postroom_shared.store import Store
from tests.integration.fetcher_helpers import (
    BOX,
    account,
    broker_and_tap,
    cert_file,
    imap,
    mail,
    maildir_file,
    new_folder,
    settings,
)
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    return sqlite_store


@pytest.mark.parametrize(
    ("security", "port_name", "verify", "with_ca"),
    [
        (Security.TLS, "imaps_port", False, False),
        (Security.TLS, "imaps_port", True, True),
        (Security.STARTTLS, "imap_port", True, True),
    ],
)
async def test_tls_modes_fetch(
    stack: StackEnv,
    store: Store,
    sqlite_url: str,
    security: Security,
    port_name: str,
    verify: bool,
    with_ca: bool,
) -> None:
    folder = new_folder(stack, "alice", mail("over tls"))
    acc = account(
        stack,
        user="alice",
        folder=folder,
        security=security,
        port=getattr(stack, port_name),
        verify_tls=verify,
    )
    extra = {"mail_ca_file": cert_file(stack)} if with_ca else {}
    cfg = settings(stack, sqlite_url, **extra)
    async with broker_and_tap(stack, sqlite_url, "mail.received.v1") as (broker, tap):
        fetcher = Fetcher(store=store, broker=broker, secrets=BOX, settings=cfg)
        assert await fetcher.poll_once(acc) == 1
        assert len(await tap.collect("mail.received.v1", 1)) == 1


async def test_unverifiable_certificate_is_a_tls_error(
    stack: StackEnv, store: Store, sqlite_url: str
) -> None:
    acc = account(stack, user="alice", security=Security.TLS, port=stack.imaps_port)
    cfg = settings(stack, sqlite_url)
    async with broker_and_tap(stack, sqlite_url) as (broker, _):
        fetcher = Fetcher(store=store, broker=broker, secrets=BOX, settings=cfg)
        with pytest.raises(MailboxError, match="TLS failure") as caught:
            await fetcher.poll_once(acc)
    assert caught.value.kind == "tls" and caught.value.permanent


@pytest.fixture
def no_starttls_server() -> Iterator[int]:
    """An IMAP greeting without STARTTLS (Dovecot always offers it, so this is the one case
    the real server cannot show): the fetcher must refuse, not log in in plain text."""
    server = socket.create_server(("127.0.0.1", 0))
    port = int(server.getsockname()[1])

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] plain only\r\n")
                data = conn.recv(1024)
                tag = data.split(b" ", 1)[0]
                if b"LOGIN" in data.upper():
                    conn.sendall(tag + b" OK LOGIN accepted in clear text\r\n")
                else:
                    conn.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
                conn.recv(1024)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield port
    server.close()
    thread.join(5)


async def test_starttls_not_offered_is_refused_not_downgraded(
    stack: StackEnv, store: Store, sqlite_url: str, no_starttls_server: int
) -> None:
    acc = account(stack, user="alice", security=Security.STARTTLS, port=no_starttls_server)
    cfg = settings(stack, sqlite_url, network_timeout_s=5)
    async with broker_and_tap(stack, sqlite_url) as (broker, _):
        fetcher = Fetcher(store=store, broker=broker, secrets=BOX, settings=cfg)
        with pytest.raises(MailboxError, match="does not offer STARTTLS") as caught:
            await asyncio.wait_for(fetcher.poll_once(acc), 20)
    assert caught.value.kind == "tls"


async def test_oversize_mail_is_quarantined_with_headers_only_and_never_blocks(
    stack: StackEnv, store: Store, sqlite_url: str
) -> None:
    big = mail("too big for us", size=60_000)
    folder = new_folder(stack, "alice", mail("small one"), big, mail("after the big one"))
    acc = account(stack, user="alice", folder=folder, max_mail_bytes=20_000)
    cfg = settings(stack, sqlite_url)
    async with broker_and_tap(stack, sqlite_url, "mail.received.v1", "mail.quarantined.v1") as (
        broker,
        tap,
    ):
        fetcher = Fetcher(store=store, broker=broker, secrets=BOX, settings=cfg)
        assert await fetcher.poll_once(acc) == 3
        assert await fetcher.poll_once(acc) == 0
        received = await tap.collect("mail.received.v1", 2)
        quarantined = await tap.collect("mail.quarantined.v1", 1)
    assert len(received) == 2 and len(quarantined) == 1
    subjects = {MailReceivedV1.model_validate_json(b).uid for b in received}
    assert subjects == {1, 3}
    event = MailQuarantinedV1.model_validate_json(quarantined[0])
    assert event.too_large and event.subject == "too big for us"
    assert event.sender is not None and event.sender.address == "casey@example.test"
    assert event.size is not None and event.size > 60_000
    assert "exceeds the account's size limit of 20000 bytes" in event.reason
    entry = await store.get_quarantine(event.quarantine_id)
    assert entry is not None and entry.mail_key == event.mail_key
    headers = await store.get_blob(entry.blob_ref)
    assert b"Subject: too big for us" in headers and b"xxxx" not in headers
    checkpoint = await store.get_checkpoint(acc.id, folder)
    assert checkpoint is not None and checkpoint.last_uid == 3
    with imap(stack, "alice") as client:
        client.select_folder(folder)
        # after_read=delete applied to the two imported mails; the big one, of which only the
        # headers were kept, stays in the mailbox untouched (not even marked read)
        assert client.search(["ALL"]) == [2]
        assert client.search(["UNSEEN"]) == [2]


async def test_uidvalidity_change_rescans_without_duplicates(
    stack: StackEnv, store: Store, sqlite_url: str
) -> None:
    old = [mail("one"), mail("two"), mail("no id", message_id=False)]
    folder = new_folder(stack, "alice", *old)
    acc = account(stack, user="alice", folder=folder, after_read=AfterRead.MARK_READ)
    cfg = settings(stack, sqlite_url)
    async with broker_and_tap(stack, sqlite_url, "mail.received.v1") as (broker, tap):
        fetcher = Fetcher(store=store, broker=broker, secrets=BOX, settings=cfg)
        assert await fetcher.poll_once(acc) == 3
        assert len(await tap.collect("mail.received.v1", 3)) == 3
        before = await store.get_checkpoint(acc.id, folder)
        # The server forgets its UIDs: same mails, new UIDVALIDITY (as after a restore).
        with imap(stack, "alice") as client:
            client.select_folder(folder)
            fetched = client.fetch(client.search(["ALL"]), ["BODY.PEEK[]"])
            raws = [data[b"BODY[]"] for _, data in sorted(fetched.items())]
            client.close_folder()
            client.delete_folder(folder)
            client.create_folder(folder)
            for raw in [*raws, mail("new after restore")]:
                client.append(folder, raw)
        assert await fetcher.poll_once(acc) == 1
        events = [
            MailReceivedV1.model_validate_json(b) for b in await tap.collect("mail.received.v1", 4)
        ]
    after = await store.get_checkpoint(acc.id, folder)
    assert before is not None and after is not None
    assert after.uidvalidity != before.uidvalidity and after.last_uid == 4
    assert len(events) == 4
    assert events[-1].uidvalidity == after.uidvalidity and events[-1].uid == 4
    keys = [dedupe_key(header_block(raw)) for raw in [*old]]
    assert await store.seen_keys(acc.id, msgid_namespace(folder), keys) == set(keys)


async def test_a_mail_the_server_cannot_hand_out_never_blocks_the_mailbox(
    stack: StackEnv, store: Store, sqlite_url: str
) -> None:
    folder = new_folder(stack, "alice", mail("first"), mail("unreadable"), mail("third"))
    # Dovecot answers "* BYE FETCH failed: Internal error" for a file it cannot read.
    maildir_file(stack, "alice", folder, b"unreadable").chmod(0)
    acc = account(stack, user="alice", folder=folder)
    cfg = settings(stack, sqlite_url)
    async with broker_and_tap(stack, sqlite_url, "mail.received.v1", "mail.quarantined.v1") as (
        broker,
        tap,
    ):
        fetcher = Fetcher(store=store, broker=broker, secrets=BOX, settings=cfg)
        # a whole-batch failure, then one UID at a time until the culprit has its strikes
        for _ in range(POISON_STRIKES):
            with pytest.raises(MailboxError, match="Internal error") as caught:
                await fetcher.poll_once(acc)
            assert caught.value.kind == "protocol"
        handled = await fetcher.poll_once(acc)
        assert handled == 3
        assert await fetcher.poll_once(acc) == 0
        received = await tap.collect("mail.received.v1", 2)
        quarantined = await tap.collect("mail.quarantined.v1", 1)
    assert {MailReceivedV1.model_validate_json(b).uid for b in received} == {1, 3}
    event = MailQuarantinedV1.model_validate_json(quarantined[0])
    assert not event.too_large and "UID 2" in event.reason and "left on the server" in event.reason
    checkpoint = await store.get_checkpoint(acc.id, folder)
    assert checkpoint is not None and checkpoint.last_uid == 3
    ids = [f"{checkpoint.uidvalidity}/{uid}" for uid in (1, 2, 3)]
    strikes = await count_strikes(store, acc.id, strike_namespace(folder), ids)
    assert set(strikes.values()) == {0}
    with imap(stack, "alice") as client:
        client.select_folder(folder)
        assert client.search(["ALL"]) == [2]  # never deleted: it was never imported
