"""The fetcher against real Dovecot and RabbitMQ: publish, then delete, then checkpoint."""

import asyncio
import uuid
from email.message import EmailMessage

import pytest
from aio_pika import connect_robust
from aio_pika.abc import AbstractIncomingMessage
from imapclient import IMAPClient
from pydantic import SecretStr

from postroom_fetcher.domain.errors import MailboxError
from postroom_fetcher.service import Fetcher
from postroom_fetcher.settings import FetcherSettings
from postroom_shared.contracts import MailReceivedV1
from postroom_shared.errors import PermanentError
from postroom_shared.models import AfterRead, EmailAccount, MailboxSettings, Security
from postroom_shared.runtime import make_broker
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store
from postroom_shared.topology import EVENTS, declare_topology
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
SECRET = "s" * 40


def _imap(stack: StackEnv, user: str) -> IMAPClient:
    client = IMAPClient("127.0.0.1", port=stack.imap_port, ssl=False, timeout=10)
    client.login(f"{user}@example.test", user)
    return client


def _mail(n: int, size: int = 100) -> bytes:
    msg = EmailMessage()
    msg["From"] = "customer@example.test"
    msg["To"] = "alice@example.test"
    msg["Subject"] = f"mail {n}"
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.test>"
    msg.set_content("x" * size)
    return msg.as_bytes()


def _alice(
    stack: StackEnv, password: str, folder: str = "INBOX", after_read: AfterRead = AfterRead.DELETE
) -> EmailAccount:
    return EmailAccount(
        id=f"acc_{folder}_{password}",
        name=f"{folder} {password}",
        address="alice@example.test",
        project="Support",
        after_read=after_read,
        mailbox=MailboxSettings(
            host="127.0.0.1",
            port=stack.imap_port,
            security=Security.NONE,
            username="alice@example.test",
            password_enc=SecretBox(SECRET).encrypt(password),
            folder=folder,
        ),
    )


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    return sqlite_store


@pytest.mark.parametrize(
    "after_read", [AfterRead.DELETE, AfterRead.MARK_READ, AfterRead.LEAVE_UNREAD]
)
async def test_poll_publishes_each_mail_once_then_applies_after_read(
    stack: StackEnv, store: Store, sqlite_url: str, after_read: AfterRead
) -> None:
    folder = f"t{uuid.uuid4().hex[:8]}"
    with _imap(stack, "alice") as imap:
        imap.create_folder(folder)
        for n in range(3):
            imap.append(folder, _mail(n, size=400_000 if n == 2 else 100))
    box = SecretBox(SECRET)
    account = _alice(stack, "alice", folder=folder, after_read=after_read)
    await store.put_account(account)
    settings = FetcherSettings(
        store_url=sqlite_url,
        broker_url=stack.amqp_url,
        secret_key=SecretStr(SECRET),
    )
    broker = make_broker(settings)
    await broker.connect()
    await declare_topology(broker)
    # A queue of our own on the exchange sees what the converter would see.
    conn = await connect_robust(stack.amqp_url)
    channel = await conn.channel()
    exchange = await channel.get_exchange(EVENTS.name)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, routing_key="mail.received.v1")
    try:
        fetcher = Fetcher(store=store, broker=broker, secrets=box, settings=settings)
        assert await fetcher.poll_once(account) == 3
        assert await fetcher.poll_once(account) == 0

        received: list[MailReceivedV1] = []
        while True:
            message: AbstractIncomingMessage | None = await queue.get(timeout=5, fail=False)
            if message is None:
                break
            await message.ack()
            event = MailReceivedV1.model_validate_json(message.body)
            if event.account_id == account.id:
                received.append(event)
        assert len(received) == 3
        assert len({e.mail_key for e in received}) == 3
        large = [e for e in received if e.blob_ref]
        assert len(large) == 1 and large[0].raw_inline is None
        assert len(await store.get_blob(large[0].blob_ref or "")) == large[0].size
        checkpoint = await store.get_checkpoint(account.id, folder)
        assert checkpoint is not None and checkpoint.last_uid == 3

        with _imap(stack, "alice") as imap:
            imap.select_folder(folder)
            if after_read is AfterRead.DELETE:
                assert imap.search(["ALL"]) == []
            elif after_read is AfterRead.MARK_READ:
                assert len(imap.search(["SEEN"])) == 3
            else:
                assert len(imap.search(["UNSEEN"])) == 3
    finally:
        await conn.close()
        await broker.stop()


async def test_wrong_password_is_a_clear_permanent_error(
    stack: StackEnv, store: Store, sqlite_url: str
) -> None:
    box = SecretBox(SECRET)
    account = _alice(stack, "nope")
    settings = FetcherSettings(
        store_url=sqlite_url,
        broker_url=stack.amqp_url,
        secret_key=SecretStr(SECRET),
    )
    fetcher = Fetcher(store=store, broker=make_broker(settings), secrets=box, settings=settings)
    with pytest.raises(PermanentError, match=r"(?i)authentication failed") as caught:
        await asyncio.wait_for(fetcher.poll_once(account), 30)
    assert isinstance(caught.value, MailboxError)
    assert caught.value.kind == "auth" and caught.value.permanent
