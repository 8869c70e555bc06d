"""`postroom deliver` as an MTA runs it: one process per mail, the mail on stdin, the outcome in
the exit status (sysexits), the event on the real broker.

Postfix itself is not wired to it here: its pipe(8) refuses to run commands as root, and this
checkout's interpreter lives under /root (mode 0700), out of reach of any other user.
docs/push.md shows the Postfix and aliases configuration.
"""

import argparse
import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from postroom_fetcher.deliver import main as deliver_main
from postroom_shared.ingest import push_mail_key
from postroom_shared.models import EmailAccount
from postroom_shared.store import Store, open_store
from tests.fetcher_proc import SECRET, MailTap, mail_account, make_mail
from tests.stack_env import REPO, StackEnv

pytestmark = pytest.mark.stack
POSTROOM = REPO / ".venv/bin/postroom"
EX_DATAERR, EX_NOUSER, EX_TEMPFAIL = 65, 67, 75


@dataclass
class Push:
    stack: StackEnv
    store: Store
    store_url: str
    account: EmailAccount

    def env(self, **extra: str) -> dict[str, str]:
        values = {
            "POSTROOM_STORE_URL": self.store_url,
            "POSTROOM_BROKER_URL": self.stack.amqp_url,
            "POSTROOM_SECRET_KEY": SECRET,
        }
        values.update(extra)
        return self.stack.environ(**values)

    async def deliver(
        self, raw: bytes, account: str | None = None, *args: str, **env: str
    ) -> tuple[int, str]:
        """Run `postroom deliver`; returns (exit status, stderr)."""
        proc = await asyncio.create_subprocess_exec(
            str(POSTROOM),
            "deliver",
            "--account",
            account or self.account.name,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env(**env),
        )
        _, err = await asyncio.wait_for(proc.communicate(raw), 60)
        assert proc.returncode is not None
        return proc.returncode, err.decode()

    async def add_account(self, name: str, **fields: object) -> EmailAccount:
        account = EmailAccount(
            id=f"acc_{uuid.uuid4().hex[:10]}",
            name=name,
            address="push@example.test",
            project="Support",
            provider="push",
            **fields,  # type: ignore[arg-type]
        )
        await self.store.put_account(account)
        return account


@pytest.fixture
async def push(stack: StackEnv, tmp_path: Path) -> AsyncIterator[Push]:
    store_url = f"sqlite:///{tmp_path / 'postroom.db'}"
    store = await open_store(store_url)
    try:
        placeholder = mail_account(stack, "INBOX")  # replaced below by a push account
        context = Push(stack, store, store_url, placeholder)
        context.account = await context.add_account(f"Push {uuid.uuid4().hex[:6]}")
        yield context
    finally:
        await store.close()


async def test_piped_mail_arrives_and_a_retry_has_the_same_key(push: Push) -> None:
    raw = make_mail(1, tag="push")
    async with MailTap(push.stack.amqp_url, push.account.id) as tap:
        from_line = b"From customer@example.test  Tue Nov 24 23:59:01 2026\n"
        runs = await asyncio.gather(
            push.deliver(raw),
            # an MTA's retry, and local(8)'s delivery with an mbox envelope line in front
            push.deliver(raw, push.account.id),
            push.deliver(from_line + raw),
        )
        assert list(runs) == [(0, "")] * 3
        await tap.wait_for_keys({push_mail_key(push.account.id, raw)}, 20)
        await tap.settle(0.5)
    assert len(tap.events) == 3
    assert tap.keys == {push_mail_key(push.account.id, raw)}, "the converter dedupes by this key"
    assert len({event.event_id for event in tap.events}) == 1
    event = tap.events[0]
    assert event.raw_inline == raw and event.source == "deliver" and event.uid is None


async def test_large_mail_travels_through_the_blob_store(push: Push) -> None:
    raw = make_mail(2, size=20_000)
    async with MailTap(push.stack.amqp_url, push.account.id) as tap:
        assert await push.deliver(raw, POSTROOM_INLINE_MAX_BYTES="4096") == (0, "")
        await tap.wait_for_keys({push_mail_key(push.account.id, raw)}, 20)
    event = tap.events[0]
    assert event.raw_inline is None and event.blob_ref
    assert await push.store.get_blob(event.blob_ref) == raw


async def test_exit_status_of_the_command(push: Push) -> None:
    """The console script as the MTA runs it: a bounce, retries and a data error."""
    raw = make_mail(3)
    nothing_listens = push.stack.base + 301  # inside this checkout's port block
    async with MailTap(push.stack.amqp_url, push.account.id) as tap:
        unknown, broker_down, store_down, empty = await asyncio.gather(
            push.deliver(raw, "No such account"),
            push.deliver(
                raw, POSTROOM_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{nothing_listens}/"
            ),
            push.deliver(
                raw,
                None,
                "--timeout",
                "3",
                POSTROOM_STORE_URL=f"mongodb://127.0.0.1:{nothing_listens}/postroom",
            ),
            push.deliver(b""),
        )
        await tap.settle(0.5)
    assert unknown == (EX_NOUSER, "postroom deliver: no email account named 'No such account'\n")
    assert broker_down[0] == EX_TEMPFAIL
    assert broker_down[1].startswith("postroom deliver: broker unreachable"), broker_down[1]
    assert store_down == (EX_TEMPFAIL, "postroom deliver: no confirmed delivery within 3.0 s\n")
    assert empty == (EX_DATAERR, "postroom deliver: no mail on stdin (empty input)\n")
    assert tap.events == [], "nothing published"


@pytest.mark.parametrize(
    ("case", "status", "message"),
    [
        ("over the limit", EX_DATAERR, "over account"),
        ("inactive", EX_NOUSER, "is not active"),
        ("not push", EX_NOUSER, "not a push account"),
        ("store unusable", EX_TEMPFAIL, "store unreachable"),
        ("no settings", EX_TEMPFAIL, "POSTROOM_SECRET_KEY must be at least 32 characters"),
    ],
)
async def test_exit_status_bounce_or_retry(
    push: Push,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    case: str,
    status: int,
    message: str,
) -> None:
    """The same `main` in this process (no interpreter start-up per case)."""
    raw, account = make_mail(4), push.account.name
    for name, value in push.env().items():
        if name.startswith("POSTROOM_"):
            monkeypatch.setenv(name, value)
    if case == "over the limit":
        small = await push.add_account(f"Small {uuid.uuid4().hex[:6]}", max_mail_bytes=1024)
        account = small.name
        raw = make_mail(4, size=4000)
    elif case == "inactive":
        account = (await push.add_account(f"Off {uuid.uuid4().hex[:6]}", active=False)).name
    elif case == "not push":
        fetched = mail_account(push.stack, f"f{uuid.uuid4().hex[:6]}")
        await push.store.put_account(fetched)
        account = fetched.name
    elif case == "store unusable":
        (tmp_path / "a-file").write_text("a file where the database directory should be")
        monkeypatch.setenv("POSTROOM_STORE_URL", f"sqlite:///{tmp_path}/a-file/postroom.db")
    elif case == "no settings":
        monkeypatch.setenv("POSTROOM_SECRET_KEY", "short")
    args = argparse.Namespace(account=account, env_file=None, timeout=30.0)
    got = await asyncio.to_thread(deliver_main, args, io.BytesIO(raw))
    stderr = capsys.readouterr().err
    assert got == status, stderr
    assert stderr.startswith("postroom deliver: ") and message in stderr, stderr
