"""The converter and the replier, registered as their `__main__` does, read configuration from
the store once, not for every mail (issue 15: before the config cache, the converter read the
account for each mail and the replier the account, every account and the SMTP settings for
each event). Prints store calls per mail of each service, by method. The two run on a RabbitMQ
vhost of their own: messages other tests left in the shared queues would be counted too."""

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any, cast

import pytest
from pydantic import SecretStr

from postroom_converter.app import register as register_converter
from postroom_converter.settings import ConverterSettings
from postroom_replier.app import register as register_replier
from postroom_shared.messaging import publish_event
from postroom_shared.models import utcnow
from postroom_shared.runtime import make_broker
from postroom_shared.store import Store
from postroom_shared.topology import declare_topology
from tests import factories
from tests.e2e.supervisor import rabbitmqctl
from tests.integration.replier_stack import replier_settings
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
CONFIG_READS = {
    "get_account",
    "list_accounts",
    "get_workflow",
    "list_workflows",
    "get_smtp_settings",
    "get_template",
    "list_templates",
}
MAILS = 40


class Counting:
    """The store, counting every call by method name."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return attr(*args, **kwargs)

        return counted


def _mail(n: int) -> bytes:
    mail = EmailMessage()
    mail["From"] = f"customer{n}@customers.test"  # Postfix hands it to its catch-all
    mail["To"] = "support@example.test"
    mail["Subject"] = f"Printer {n}"
    mail["Message-ID"] = f"<{uuid.uuid4().hex}@example.test>"
    mail.set_content("on fire")
    return mail.as_bytes()


@pytest.fixture
def own_vhost(stack: StackEnv) -> Iterator[str]:
    """The broker URL of a fresh vhost on the session's RabbitMQ."""
    vhost = f"config-reads-{uuid.uuid4().hex[:8]}"
    rabbitmqctl(stack, "add_vhost", vhost)
    rabbitmqctl(stack, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    try:
        yield f"{stack.amqp_url}{vhost}"
    finally:
        rabbitmqctl(stack, "delete_vhost", vhost)


async def _settled(*stores: Counting) -> None:
    last: tuple[int, ...] = ()
    while True:
        await asyncio.sleep(1.5)
        now = tuple(sum(s.calls.values()) for s in stores)
        if now == last:
            return
        last = now


async def test_configuration_is_read_once_not_per_mail(
    stack: StackEnv, own_vhost: str, sqlite_store: Store, sqlite_url: str
) -> None:
    await sqlite_store.put_account(factories.account())  # auto-replies on
    converter_settings = ConverterSettings(
        store_url=sqlite_url, broker_url=own_vhost, secret_key=SecretStr("s" * 40)
    )
    settings = replier_settings(stack, sqlite_url, broker_url=own_vhost)
    converting, replying = Counting(sqlite_store), Counting(sqlite_store)
    brokers = (make_broker(converter_settings), make_broker(settings))
    loops = [
        *register_converter(brokers[0], cast(Store, converting), converter_settings),
        *register_replier(brokers[1], cast(Store, replying), settings),
    ]
    tasks = [asyncio.create_task(loop) for loop in loops]
    for broker in brokers:
        await broker.connect()
        await declare_topology(broker)
        await broker.start()
    try:
        for n in range(MAILS):
            event = factories.mail_received(f"acc1/INBOX/7/{n}", _mail(n))
            await publish_event(brokers[0], event)
        await _settled(converting, replying)
    finally:
        for broker in brokers:
            await broker.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for name, counting in (("converter", converting), ("replier", replying)):
        calls = counting.calls
        per_mail = ", ".join(f"{k} {v / MAILS:.2f}" for k, v in sorted(calls.items()))
        print(f"\n{name}: {sum(calls.values()) / MAILS:.2f} store calls per mail: {per_mail}")
    # every auto-reply went out, recorded once (the replier marks them in groups: finish_sends)
    hour = utcnow() - timedelta(hours=1)
    assert await sqlite_store.count_sends_since(hour, limit=10 * MAILS) == MAILS
    for counting in (converting, replying):
        # one read per kind for the whole run (the cache), not one per mail
        assert all(counting.calls[read] <= 1 for read in CONFIG_READS), counting.calls
