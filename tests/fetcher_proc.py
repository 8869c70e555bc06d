"""The real fetcher as a separate process, and a view of what it published.

Kill, restart and benchmark runs need what a unit test cannot give: a process that dies with
SIGKILL (no finally blocks) and starts again from what it stored. `MailTap` is a durable queue of
our own bound like the converter's, so it sees every `mail.received.v1` the broker confirmed,
and it survives a broker restart without losing what was published meanwhile.
"""

import asyncio
import imaplib
import inspect
import signal
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Literal

from aio_pika import ExchangeType, connect_robust
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from imapclient import IMAPClient

from postroom_shared.contracts import MailReceivedV1
from postroom_shared.models import AfterRead, EmailAccount, MailboxSettings, Security
from postroom_shared.secretbox import SecretBox
from tests.stack_env import REPO, StackEnv

__all__ = [
    "SECRET",
    "FetcherProcess",
    "MailTap",
    "append_mails",
    "imap",
    "mail_account",
    "make_mail",
    "start_fetcher",
    "uids_in",
    "wait_until",
]

SECRET = "k" * 40
FETCHER = REPO / ".venv/bin/postroom-fetcher"
CRASHING = REPO / ".venv/bin/python"  # runs `-m tests.crashpoints`: the fetcher with a crash hook


def make_mail(n: int, size: int = 200, tag: str = "") -> bytes:
    msg = EmailMessage()
    msg["From"] = "customer@example.test"
    msg["To"] = "support@example.test"
    msg["Subject"] = f"mail {n} {tag}".strip()
    msg["Message-ID"] = f"<{uuid.uuid4().hex}@example.test>"
    msg.set_content(f"mail {n}\n" + "x" * size)
    return msg.as_bytes()


def imap(stack: StackEnv, user: str = "support") -> IMAPClient:
    client = IMAPClient("127.0.0.1", port=stack.imap_port, ssl=False, timeout=10)
    client.login(f"{user}@example.test", user)
    return client


def append_mails(stack: StackEnv, folder: str, mails: list[bytes], user: str = "support") -> None:
    with imap(stack, user) as client:
        if not client.folder_exists(folder):
            client.create_folder(folder)
        for raw in mails:
            client.append(folder, raw)


def uids_in(stack: StackEnv, folder: str, user: str = "support") -> tuple[int, list[int]]:
    """(UIDVALIDITY, UIDs present) of `folder`."""
    with imap(stack, user) as client:
        status = client.select_folder(folder, readonly=True)
        return int(status[b"UIDVALIDITY"]), sorted(int(u) for u in client.search(["ALL"]))


def mail_account(
    stack: StackEnv,
    folder: str,
    *,
    user: str = "support",
    poll_interval_s: float = 1.0,
    provider: Literal["imap", "pop3"] = "imap",
) -> EmailAccount:
    """An account reading `user`'s `folder` (POP3: the INBOX) on the stack, deleting after read."""
    return EmailAccount(
        id=f"acc_{folder}",
        name=f"Support {folder}",
        address=f"{user}@example.test",
        project="Support",
        provider=provider,
        after_read=AfterRead.DELETE,
        poll_interval_s=poll_interval_s,
        mailbox=MailboxSettings(
            host="127.0.0.1",
            port=stack.imap_port if provider == "imap" else stack.pop3_port,
            security=Security.NONE,
            username=f"{user}@example.test",
            password_enc=SecretBox(SECRET).encrypt(user),
            folder=folder if provider == "imap" else "INBOX",
        ),
    )


@dataclass
class FetcherProcess:
    proc: subprocess.Popen[bytes]
    log_path: Path

    def wait(self, timeout_s: float) -> int:
        return self.proc.wait(timeout=timeout_s)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM (an orderly stop); SIGKILL if it does not exit in time."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait(timeout=10)

    def memory_kib(self, field: str = "VmHWM") -> int:
        """A memory figure of the live process from /proc (VmHWM: peak resident set)."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith(f"{field}:"))
        return int(line.split()[1])

    def log(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def start_fetcher(
    stack: StackEnv,
    store_url: str,
    log_path: Path,
    *,
    crash_at: str | None = None,
    batch: int = 20,
    **extra: str,
) -> FetcherProcess:
    """`postroom-fetcher` against `stack` and `store_url`; stderr (JSON logs) to `log_path`.
    With `crash_at` (`<point>[:<n>]`) it is the same fetcher with the kill tests' crash hook
    (tests/crashpoints.py), which SIGKILLs it there.

        A killed replica's account lease must expire before the next process may fetch: short
        leases keep these runs in seconds (production default: 30 s).
    """
    settings = {
        "POSTROOM_STORE_URL": store_url,
        "POSTROOM_BROKER_URL": stack.amqp_url,
        "POSTROOM_SECRET_KEY": SECRET,
        "POSTROOM_FETCH_BATCH": str(batch),
        "POSTROOM_ACCOUNTS_REFRESH_S": "1",
        "POSTROOM_HEARTBEAT_INTERVAL_S": "1",
        "POSTROOM_LEASE_TTL_S": "3",
        "POSTROOM_LEASE_RENEW_S": "1",
        "POSTROOM_METRICS_PORT": "0",  # the default 9101 is outside this port block
    }
    env = stack.environ(**(settings | extra))
    env.pop("POSTROOM_FETCHER_CRASH_AT", None)
    if crash_at:
        env["POSTROOM_FETCHER_CRASH_AT"] = crash_at
    command = [str(CRASHING), "-m", "tests.crashpoints"] if crash_at else [str(FETCHER)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    return FetcherProcess(proc, log_path)


async def wait_until(
    check: Callable[[], bool | Awaitable[bool]], timeout_s: float, what: str, step_s: float = 0.1
) -> None:
    """Poll `check` (plain or async) until it holds; TimeoutError naming `what` otherwise."""
    end = time.monotonic() + timeout_s
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if time.monotonic() > end:
            raise TimeoutError(f"{what}: not reached after {timeout_s} s")
        await asyncio.sleep(step_s)


@dataclass
class MailTap:
    """Every `mail.received.v1` of one account, in arrival order, with arrival times."""

    amqp_url: str
    account_id: str | None = None
    events: list[MailReceivedV1] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # time.time() per event
    redelivered: int = 0  # deliveries our own queue repeated (not re-publishes)
    _conn: AbstractRobustConnection | None = None
    _queue: AbstractQueue | None = None
    _consumer: str = ""

    async def __aenter__(self) -> "MailTap":
        self._conn = await connect_robust(self.amqp_url, reconnect_interval=0.5)
        channel = await self._conn.channel()
        await channel.set_qos(prefetch_count=500)
        exchange = await channel.declare_exchange(
            "postroom.events", ExchangeType.TOPIC, durable=True
        )
        # durable and not exclusive: what is published while we are disconnected waits here
        self._queue = await channel.declare_queue(f"test.tap.{uuid.uuid4().hex[:12]}", durable=True)
        await self._queue.bind(exchange, routing_key="mail.received.v1")
        self._consumer = await self._queue.consume(self._on_message)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._queue is not None:
            await self._queue.cancel(self._consumer)
            await self._queue.delete(if_unused=False, if_empty=False)
        if self._conn is not None:
            await self._conn.close()

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        event = MailReceivedV1.model_validate_json(message.body)
        if self.account_id is None or event.account_id == self.account_id:
            if message.redelivered and event.mail_key in self.keys:
                self.redelivered += 1
            else:
                self.events.append(event)
                self.arrivals.append(time.time())
        await message.ack()

    @property
    def keys(self) -> set[str]:
        return {event.mail_key for event in self.events}

    @property
    def republished(self) -> int:
        """Raw duplicates: the same mail published again (the converter dedupes by mail key)."""
        return len(self.events) - len(self.keys)

    async def wait_for_keys(self, expected: set[str], timeout_s: float) -> None:
        await wait_until(
            lambda: expected <= self.keys,
            timeout_s,
            f"events for {len(expected)} mails (have {len(self.keys & expected)})",
        )

    async def settle(self, quiet_s: float = 1.0) -> None:
        """Wait until nothing new arrived for `quiet_s` (late re-publishes included)."""
        seen = -1
        while seen != len(self.events):
            seen = len(self.events)
            await asyncio.sleep(quiet_s)


def copies_in_inbox(stack: StackEnv, message_id: str) -> int:
    """How many mails with `message_id` the customer's INBOX holds (what reached the customer
    through the stack's Postfix, counted once per copy)."""
    with imaplib.IMAP4("127.0.0.1", stack.imap_port) as client:
        client.login("customer", "customer")
        client.select("INBOX", readonly=True)
        _, hits = client.search(None, "HEADER", "Message-ID", message_id)
        return len(hits[0].split())
