"""A replier on the test stack's Postfix, Dovecot and RabbitMQ, on a fresh store with account
acc1 (support@example.test): what the replier's integration tests drive by hand-built events."""

import asyncio
import imaplib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pydantic import SecretStr

from postroom_replier.service import Replier
from postroom_replier.settings import ReplierSettings
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.models import Security
from postroom_shared.runtime import make_broker
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import open_store
from postroom_shared.topology import declare_topology
from tests import factories
from tests.stack_env import StackEnv

SECRET = "p" * 40


def replier_settings(stack: StackEnv, store_url: str, **changes: object) -> ReplierSettings:
    """Settings that send through the stack's Postfix, without TLS (`changes` on top)."""
    return ReplierSettings.model_validate(
        {
            "store_url": store_url,
            "broker_url": stack.amqp_url,
            "secret_key": SecretStr(SECRET),
            "smtp_host": "127.0.0.1",
            "smtp_port": stack.smtp_port,
            "smtp_security": Security.NONE,
            "instance": "test",
            **changes,
        }
    )


@asynccontextmanager
async def running_replier(stack: StackEnv, store_url: str) -> AsyncIterator[Replier]:
    store = await open_store(store_url)
    await store.put_account(factories.account())
    settings = replier_settings(stack, store_url)
    broker = make_broker(settings)
    await broker.connect()
    await declare_topology(broker)
    replier = Replier(
        store=store,
        broker=broker,
        signer=MessageIdSigner(SECRET, "x"),
        secrets=SecretBox(SECRET),
        settings=settings,
    )
    try:
        yield replier
    finally:
        await replier.aclose()  # the render workers of stored templates
        await broker.stop()
        await store.close()


async def fetch_mail(
    stack: StackEnv, user: str, criteria: tuple[str, ...], *, expect: int = 1, wait_s: float = 10
) -> list[bytes]:
    """The raw mails in `user`'s INBOX matching the IMAP search `criteria`, waiting up to
    `wait_s` for `expect` of them (Postfix delivers asynchronously); whatever is there then."""

    def search() -> list[bytes]:
        found: list[bytes] = []
        with imaplib.IMAP4("127.0.0.1", stack.imap_port) as imap:
            imap.login(user, user)
            imap.select("INBOX", readonly=True)
            _, hits = imap.search(None, *criteria)
            for number in hits[0].split():
                _, data = imap.fetch(number.decode(), "(BODY.PEEK[])")
                found.append(data[0][1] if isinstance(data[0], tuple) else b"")
        return found

    for _ in range(int(wait_s / 0.2)):
        if len(mails := search()) >= expect:
            return mails
        await asyncio.sleep(0.2)
    return search()
