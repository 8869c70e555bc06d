"""POP3 against the real Dovecot: UIDL dedupe, delete or keep, size pre-check with TOP,
plain/STLS/POP3S, and keys of mail gone from the server pruned."""

import pytest

from postroom_fetcher.domain.errors import MailboxError
from postroom_fetcher.domain.plan import UIDL_NAMESPACE
from postroom_fetcher.domain.poison import POISON_STRIKES
from postroom_fetcher.service import Fetcher
from postroom_shared.contracts import MailQuarantinedV1, MailReceivedV1
from postroom_shared.models import AfterRead, Security
from postroom_shared.store import Store, open_store
from tests.integration.fetcher_helpers import (
    BOX,
    account,
    broker_and_tap,
    cert_file,
    empty_inbox,
    imap,
    mail,
    maildir_file,
    settings,
)
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
USER = "customer"  # only the POP3 tests use this user's INBOX


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    return sqlite_store


def _deliver(stack: StackEnv, *mails: bytes) -> None:
    with imap(stack, USER) as client:
        for raw in mails:
            client.append("INBOX", raw)


def _uidls(stack: StackEnv) -> int:
    with imap(stack, USER) as client:
        return int(client.folder_status("INBOX", [b"MESSAGES"])[b"MESSAGES"])


async def test_keep_on_server_publishes_each_uidl_once_and_prunes_gone_ones(
    stack: StackEnv, store_url: str
) -> None:
    store = await open_store(store_url)
    try:
        await _keep_on_server(stack, store, store_url)
    finally:
        await store.close()


async def _keep_on_server(stack: StackEnv, store: Store, sqlite_url: str) -> None:
    empty_inbox(stack, USER)
    _deliver(stack, mail("p1"), mail("p2"))
    acc = account(stack, user=USER, provider="pop3", after_read=AfterRead.LEAVE_UNREAD)
    async with broker_and_tap(stack, sqlite_url, "mail.received.v1") as (broker, tap):
        fetcher = Fetcher(
            store=store, broker=broker, secrets=BOX, settings=settings(stack, sqlite_url)
        )
        assert await fetcher.poll_once(acc) == 2
        assert await fetcher.poll_once(acc) == 0
        _deliver(stack, mail("p3"))
        assert await fetcher.poll_once(acc) == 1
        events = [
            MailReceivedV1.model_validate_json(b) for b in await tap.collect("mail.received.v1", 3)
        ]
    assert len(events) == 3 and len({e.mail_key for e in events}) == 3
    assert all(e.mail_key.startswith(f"{acc.id}/pop3/") for e in events)
    uidls = [e.mail_key.rsplit("/", 1)[1] for e in events]
    assert await store.seen_keys(acc.id, UIDL_NAMESPACE, uidls) == set(uidls)
    assert _uidls(stack) == 3  # kept on the server
    empty_inbox(stack, USER)
    async with broker_and_tap(stack, sqlite_url) as (broker, _):
        fetcher = Fetcher(
            store=store, broker=broker, secrets=BOX, settings=settings(stack, sqlite_url)
        )
        assert await fetcher.poll_once(acc) == 0
    assert await store.seen_keys(acc.id, UIDL_NAMESPACE, uidls) == set()


@pytest.mark.parametrize(
    ("security", "port_name"),
    [(Security.NONE, "pop3_port"), (Security.STARTTLS, "pop3_port"), (Security.TLS, "pop3s_port")],
)
async def test_delete_after_reading_over_each_security(
    stack: StackEnv, store: Store, sqlite_url: str, security: Security, port_name: str
) -> None:
    empty_inbox(stack, USER)
    _deliver(stack, mail("d1"), mail("d2"))
    acc = account(
        stack, user=USER, provider="pop3", security=security, port=getattr(stack, port_name)
    )
    cfg = settings(stack, sqlite_url, mail_ca_file=cert_file(stack))
    async with broker_and_tap(stack, sqlite_url, "mail.received.v1") as (broker, tap):
        fetcher = Fetcher(store=store, broker=broker, secrets=BOX, settings=cfg)
        assert await fetcher.poll_once(acc) == 2
        assert len(await tap.collect("mail.received.v1", 2)) == 2
    assert _uidls(stack) == 0


async def test_oversize_pop3_mail_is_quarantined_from_top_headers(
    stack: StackEnv, store: Store, sqlite_url: str
) -> None:
    empty_inbox(stack, USER)
    _deliver(stack, mail("big pop", size=50_000), mail("small pop"))
    acc = account(stack, user=USER, provider="pop3", max_mail_bytes=10_000)
    async with broker_and_tap(stack, sqlite_url, "mail.received.v1", "mail.quarantined.v1") as (
        broker,
        tap,
    ):
        fetcher = Fetcher(
            store=store, broker=broker, secrets=BOX, settings=settings(stack, sqlite_url)
        )
        assert await fetcher.poll_once(acc) == 2
        assert await fetcher.poll_once(acc) == 0
        received = await tap.collect("mail.received.v1", 1)
        quarantined = await tap.collect("mail.quarantined.v1", 1)
    assert len(received) == 1 and len(quarantined) == 1
    event = MailQuarantinedV1.model_validate_json(quarantined[0])
    assert event.too_large and event.subject == "big pop" and (event.size or 0) > 50_000
    entry = await store.get_quarantine(event.quarantine_id)
    assert entry is not None
    headers = await store.get_blob(entry.blob_ref)
    assert headers.endswith(b"\r\n\r\n") and b"xxxxxxxx" not in headers
    assert _uidls(stack) == 1  # the big one stays on the server: only its headers were kept
    async with broker_and_tap(stack, sqlite_url, "mail.quarantined.v1") as (broker, tap):
        fetcher = Fetcher(
            store=store, broker=broker, secrets=BOX, settings=settings(stack, sqlite_url)
        )
        assert await fetcher.poll_once(acc) == 0  # known: neither quarantined again nor deleted
        assert await tap.collect("mail.quarantined.v1", 1, timeout_s=1.0, settle_s=0) == []
    assert _uidls(stack) == 1


async def test_wrong_pop3_password_names_the_cause(
    stack: StackEnv, store: Store, sqlite_url: str
) -> None:
    acc = account(stack, user=USER, provider="pop3", password="wrong")
    async with broker_and_tap(stack, sqlite_url) as (broker, _):
        fetcher = Fetcher(
            store=store, broker=broker, secrets=BOX, settings=settings(stack, sqlite_url)
        )
        with pytest.raises(MailboxError, match=r"\[AUTH\]") as caught:
            await fetcher.poll_once(acc)
    assert caught.value.kind == "auth" and caught.value.permanent


async def test_a_message_the_server_refuses_is_retried_then_quarantined_and_kept(
    stack: StackEnv, store: Store, sqlite_url: str
) -> None:
    empty_inbox(stack, USER)
    _deliver(stack, mail("first"), mail("refused"), mail("third"))
    # Dovecot answers "-ERR Message 2 expunged." for a message file it cannot read.
    maildir_file(stack, USER, "", b"refused").chmod(0)
    acc = account(stack, user=USER, provider="pop3")
    async with broker_and_tap(stack, sqlite_url, "mail.received.v1", "mail.quarantined.v1") as (
        broker,
        tap,
    ):
        fetcher = Fetcher(
            store=store, broker=broker, secrets=BOX, settings=settings(stack, sqlite_url)
        )
        # the others are never held up; the refused one is tried again each session
        assert [await fetcher.poll_once(acc) for _ in range(POISON_STRIKES)] == [2, 0, 0]
        assert await fetcher.poll_once(acc) == 1  # now quarantined as unreadable
        assert await fetcher.poll_once(acc) == 0
        received = await tap.collect("mail.received.v1", 2)
        quarantined = await tap.collect("mail.quarantined.v1", 1)
    raws = [MailReceivedV1.model_validate_json(body).raw_inline or b"" for body in received]
    subjects = {b"first" in raw or b"third" in raw for raw in raws}
    assert len(received) == 2 and subjects == {True}
    event = MailQuarantinedV1.model_validate_json(quarantined[0])
    assert not event.too_large and "left on the server" in event.reason
    assert _uidls(stack) == 1  # never imported, so never deleted
