"""What the API asks of a mailbox (probe.py) against the real Dovecot: decoded folder
names, messages waiting, connection tests naming the cause, and "fetch now"."""

import asyncio
import uuid

import pytest

from postroom_fetcher import probe
from postroom_fetcher.domain.errors import MailboxError
from postroom_fetcher.service import Fetcher
from postroom_shared.models import AfterRead, Security
from postroom_shared.store import Store
from tests.integration.fetcher_helpers import (
    BOX,
    FAST,
    account,
    broker_and_tap,
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


async def test_folder_list_is_decoded_from_modified_utf7(stack: StackEnv) -> None:
    tag = uuid.uuid4().hex[:6]
    names = [f"Überfällig {tag}", f"Заявки {tag}", f"Kunden {tag}/日本語 & Co"]
    with imap(stack, "support") as client:
        for name in names:
            client.create_folder(name)
    acc = account(stack, user="support")
    folders = await probe.list_folders(acc, secrets=BOX, tokens=None)
    assert folders[0] == "INBOX"
    assert set(names) <= set(folders)
    assert "Sent" in folders and "Trash" in folders


async def test_count_waiting_is_what_activation_would_import(
    stack: StackEnv, store: Store, sqlite_url: str
) -> None:
    folder = new_folder(stack, "support", mail("w1"), mail("w2"), mail("w3"))
    acc = account(stack, user="support", folder=folder, after_read=AfterRead.LEAVE_UNREAD)
    assert await probe.count_waiting(acc, store=store, secrets=BOX, tokens=None) == 3
    async with broker_and_tap(stack, sqlite_url) as (broker, _):
        fetcher = Fetcher(
            store=store, broker=broker, secrets=BOX, settings=settings(stack, sqlite_url)
        )
        assert await fetcher.poll_once(acc) == 3
    assert await probe.count_waiting(acc, store=store, secrets=BOX, tokens=None) == 0
    with imap(stack, "support") as client:
        client.append(folder, mail("w4"))
    assert await probe.count_waiting(acc, store=store, secrets=BOX, tokens=None) == 1


async def test_count_waiting_over_pop3(stack: StackEnv, store: Store) -> None:
    empty_inbox(stack, "customer")
    with imap(stack, "customer") as client:
        client.append("INBOX", mail("pop waiting"))
    acc = account(stack, user="customer", provider="pop3")
    assert await probe.count_waiting(acc, store=store, secrets=BOX, tokens=None) == 1
    assert await probe.list_folders(acc, secrets=BOX, tokens=None) == ["INBOX"]


async def test_connection_test_names_the_cause(stack: StackEnv) -> None:
    await probe.test_connection(account(stack, user="support"), secrets=BOX, tokens=None)
    cases = [
        (account(stack, user="support", password="nope"), "auth", "Authentication failed"),
        (account(stack, user="support", folder="NoSuchFolder"), "folder", "NoSuchFolder"),
        (
            account(stack, user="support", security=Security.TLS, port=stack.imaps_port),
            "tls",
            "certificate verify failed",
        ),
        (account(stack, user="support", port=stack.base + 999), "network", "cannot reach"),
    ]
    for acc, kind, words in cases:
        with pytest.raises(MailboxError) as caught:
            await probe.test_connection(acc, secrets=BOX, tokens=None, timeout_s=5)
        assert caught.value.kind == kind, str(caught.value)
        assert words in str(caught.value)


async def test_fetch_now_wakes_the_replica_that_holds_the_account(
    stack: StackEnv, store: Store, sqlite_url: str
) -> None:
    folder = new_folder(stack, "support")
    acc = account(stack, user="support", folder=folder, use_idle=False, poll_interval_s=3600)
    await store.put_account(acc)
    cfg = settings(stack, sqlite_url, **FAST)
    async with broker_and_tap(stack, sqlite_url, "mail.received.v1") as (broker, tap):
        fetcher = Fetcher(store=store, broker=broker, secrets=BOX, settings=cfg)
        task = asyncio.create_task(fetcher.supervise())
        try:

            async def polled() -> bool:
                state = await store.get_account_state(acc.id)
                return state is not None and state.last_success is not None

            assert await wait_for(polled)
            with imap(stack, "support") as client:
                client.append(folder, mail("fetch me now"))
            assert await tap.collect("mail.received.v1", 1, timeout_s=1.0, settle_s=0) == []
            await probe.request_fetch_now(store, acc.id)
            assert len(await tap.collect("mail.received.v1", 1, timeout_s=3.0)) == 1
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
