"""Shared pieces of the fetcher's integration tests: accounts on the test Dovecot, mail
builders, and a tap on `postroom.events` that sees what the converter would see."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aio_pika import connect_robust
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue
from faststream.rabbit import RabbitBroker
from imapclient import IMAPClient
from pydantic import SecretStr

from postroom_fetcher.settings import FetcherSettings
from postroom_shared.models import AfterRead, EmailAccount, MailboxSettings, Provider, Security
from postroom_shared.runtime import make_broker
from postroom_shared.secretbox import SecretBox
from postroom_shared.topology import EVENTS, declare_topology
from tests.stack_env import StackEnv

SECRET = "s" * 40
BOX = SecretBox(SECRET)
# Supervisor timings short enough for a test to see refreshes, renewals and backoff in seconds.
FAST = {
    "accounts_refresh_s": 0.3,
    "wake_check_s": 0.2,
    "lease_renew_s": 1.0,
    "lease_ttl_s": 5.0,
    "idle_check_s": 0.5,
    "backoff_base_s": 0.2,
    "backoff_permanent_s": 0.5,
    "backoff_max_s": 2.0,
}


def imap(stack: StackEnv, user: str) -> IMAPClient:
    client = IMAPClient("127.0.0.1", port=stack.imap_port, ssl=False, timeout=10)
    client.login(f"{user}@example.test", user)
    return client


def mail(subject: str, *, size: int = 100, message_id: bool = True) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Casey Customer <casey@example.test>"
    msg["To"] = "alice@example.test"
    msg["Subject"] = subject
    if message_id:
        msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.test>"
    msg.set_content("x" * size)
    return msg.as_bytes().replace(b"\n", b"\r\n")


def new_folder(stack: StackEnv, user: str, *mails: bytes) -> str:
    folder = f"t{uuid.uuid4().hex[:8]}"
    with imap(stack, user) as client:
        client.create_folder(folder)
        for raw in mails:
            client.append(folder, raw)
    return folder


def empty_inbox(stack: StackEnv, user: str) -> None:
    with imap(stack, user) as client:
        client.select_folder("INBOX")
        uids = client.search(["ALL"])
        if uids:
            client.delete_messages(uids)
            client.expunge()


def account(
    stack: StackEnv,
    *,
    user: str,
    password: str | None = None,
    folder: str = "INBOX",
    provider: Provider = "imap",
    security: Security = Security.NONE,
    port: int | None = None,
    host: str = "127.0.0.1",
    verify_tls: bool = True,
    after_read: AfterRead = AfterRead.DELETE,
    **extra: Any,
) -> EmailAccount:
    default_port = stack.pop3_port if provider == "pop3" else stack.imap_port
    account_id = f"acc_{uuid.uuid4().hex[:10]}"
    return EmailAccount(
        id=account_id,
        name=f"{user} {account_id}",
        address=f"{user}@example.test",
        project="Support",
        provider=provider,
        after_read=after_read,
        mailbox=MailboxSettings(
            host=host,
            port=port or default_port,
            security=security,
            verify_tls=verify_tls,
            username=f"{user}@example.test",
            password_enc=BOX.encrypt(password if password is not None else user),
            folder=folder,
        ),
        **extra,
    )


def settings(stack: StackEnv, store_url: str, **extra: Any) -> FetcherSettings:
    return FetcherSettings(
        store_url=store_url, broker_url=stack.amqp_url, secret_key=SecretStr(SECRET), **extra
    )


def cert_file(stack: StackEnv) -> str:
    return str(stack.state_dir / "stack" / "dovecot" / "ssl" / "cert.pem")


def maildir_file(stack: StackEnv, user: str, folder: str, subject: bytes) -> Path:
    """The file Dovecot keeps a mail in (found by subject); `folder` "" is the INBOX."""
    home = stack.state_dir / "stack/dovecot/mail/example.test" / user / "Maildir"
    maildir = home / f".{folder}" if folder else home
    for path in [*maildir.glob("new/*"), *maildir.glob("cur/*")]:
        if b"\nSubject: " + subject + b"\n" in path.read_bytes().replace(b"\r\n", b"\n"):
            return path
    raise AssertionError(f"no maildir file with subject {subject!r}")


def dovecot_conf(stack: StackEnv) -> str:
    return str(stack.state_dir / "stack" / "dovecot" / "dovecot.conf")


@dataclass
class Tap:
    """An exclusive queue bound to postroom.events: every event of the chosen types, as
    consumed (a consumer, not basic.get polling, so a slow broker never times a poll out)."""

    queue: AbstractQueue
    seen: list[tuple[str, bytes]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        async def on_message(message: AbstractIncomingMessage) -> None:
            self.seen.append((message.routing_key or "", message.body))
            self.arrived.set()

        await self.queue.consume(on_message, no_ack=True)

    async def collect(
        self, routing_key: str, count: int, *, timeout_s: float = 10.0, settle_s: float = 0.5
    ) -> list[bytes]:
        """Wait until `count` events of `routing_key` arrived, then `settle_s` longer so an
        extra (duplicate) one would be seen too."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout_s
        while True:
            have = [body for key, body in self.seen if key == routing_key]
            if len(have) >= count:
                await asyncio.sleep(settle_s)
                return [body for key, body in self.seen if key == routing_key]
            left = end - loop.time()
            if left <= 0:
                return have
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), timeout=min(left, 0.5))


@asynccontextmanager
async def broker_and_tap(
    stack: StackEnv, store_url: str, *routing_keys: str
) -> AsyncIterator[tuple[RabbitBroker, Tap]]:
    broker = make_broker(settings(stack, store_url))
    await broker.connect()
    await declare_topology(broker)
    conn = await connect_robust(stack.amqp_url)
    try:
        channel = await conn.channel()
        exchange = await channel.get_exchange(EVENTS.name)
        queue = await channel.declare_queue(exclusive=True)
        for key in routing_keys:
            await queue.bind(exchange, routing_key=key)
        tap = Tap(queue)
        await tap.start()
        yield broker, tap
    finally:
        await conn.close()
        await broker.stop()


async def wait_for(probe: Any, *, timeout_s: float = 10.0, step_s: float = 0.1) -> Any:
    """Poll the async `probe()` until it returns something truthy."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout_s
    while True:
        value = await probe()
        if value or loop.time() >= end:
            return value
        await asyncio.sleep(step_s)
