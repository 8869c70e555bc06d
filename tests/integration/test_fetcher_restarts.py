"""F9 across server restarts: RabbitMQ or Dovecot stops in the middle of a run and comes back;
the fetcher process keeps running, recovers by itself, and every mail arrives once by mail key.

The restarts hit the session stack of this checkout's port block (its own state directory), and
leave it running for the tests after these.
"""

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from postroom_shared.ingest import imap_mail_key
from postroom_shared.store import Store, open_store
from tests.fetcher_proc import (
    FetcherProcess,
    MailTap,
    append_mails,
    imap,
    mail_account,
    make_mail,
    start_fetcher,
    uids_in,
    wait_until,
)
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
BATCH = 2


def rabbitmqctl(stack: StackEnv, *args: str) -> None:
    env_sh = stack.state_dir / "stack/rabbitmq/env.sh"
    subprocess.run(
        ["bash", "-c", '. "$1" && shift && rabbitmqctl "$@"', "rabbitmqctl", str(env_sh), *args],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent PID) of a process, None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def _wait_gone(pids: list[int], timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while any((st := _stat(pid)) and st[0] != "Z" for pid in pids):
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def restart_dovecot(stack: StackEnv) -> None:
    """Stop this stack's Dovecot with every session it serves, and start it the way stack.sh
    does, recording the new PID where `stack.sh stop` will find it."""
    dc = stack.state_dir / "stack/dovecot"
    pid_file = stack.state_dir / "stack/pids/dovecot"
    master = int(pid_file.read_text())
    children = [
        int(p.name) for p in Path("/proc").iterdir()
        if p.name.isdigit() and (_stat(int(p.name)) or ("", 0))[1] == master
    ]  # fmt: skip
    os.kill(master, signal.SIGTERM)
    assert _wait_gone([master], 20), "Dovecot did not stop"
    # shutdown_clients ends the IMAP sessions, a moment after the master; a session that
    # lingers (an IDLE waiting on its socket) would hide the outage from the fetcher
    if not _wait_gone(children, 2):
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert _wait_gone(children, 5), "Dovecot's processes did not stop"
    subprocess.run(["rm", "-rf", str(dc / "run")], check=True)
    (dc / "run").mkdir()
    # detached like stack.sh starts it, so the master is not a child of the test process
    script = 'setsid /usr/sbin/dovecot -F -c "$1" >> "$2" 2>&1 < /dev/null & echo $!'
    launched = subprocess.run(
        ["bash", "-c", script, "launch", str(dc / "dovecot.conf"), str(dc / "log/stdout.log")],
        check=True,
        capture_output=True,
        text=True,
    )
    pid_file.write_text(launched.stdout)
    end = time.monotonic() + 20
    while True:
        try:
            imap(stack).logout()
            return
        except OSError:
            assert time.monotonic() < end, "Dovecot did not come back"
            time.sleep(0.05)


@dataclass
class Run:
    stack: StackEnv
    folder: str
    store: Store
    tap: MailTap
    fetcher: FetcherProcess
    uidvalidity: int = 0

    def append(self, count: int) -> set[str]:
        """Append `count` mails; returns their mail keys."""
        before = set(uids_in(self.stack, self.folder)[1])
        append_mails(self.stack, self.folder, [make_mail(n, tag=self.folder) for n in range(count)])
        self.uidvalidity, now = uids_in(self.stack, self.folder)
        account_id = f"acc_{self.folder}"
        return {
            imap_mail_key(account_id, self.folder, self.uidvalidity, uid)
            for uid in now
            if uid not in before
        }

    async def arrived(self, keys: set[str], timeout_s: float = 60) -> None:
        await self.tap.wait_for_keys(keys, timeout_s)

    async def finish(self, expected: set[str]) -> None:
        """Everything arrived, the mailbox is empty, the checkpoint is at the last UID, the
        process never stopped; then an orderly stop."""
        await self.arrived(expected)
        await wait_until(lambda: not uids_in(self.stack, self.folder)[1], 30, "mailbox empty")
        last_uid = max(int(key.rsplit("/", 1)[1]) for key in expected)

        async def checkpoint_at_last_uid() -> bool:
            checkpoint = await self.store.get_checkpoint(f"acc_{self.folder}", self.folder)
            return checkpoint is not None and checkpoint.last_uid == last_uid

        await wait_until(checkpoint_at_last_uid, 30, "checkpoint at the last UID")
        await self.tap.settle(1.0)
        assert self.fetcher.alive(), f"the fetcher died:\n{self.fetcher.log()}"
        assert self.fetcher.stop() == 0, self.fetcher.log()
        assert self.tap.keys == expected, f"lost: {sorted(expected - self.tap.keys)}"
        problems = sum(
            '"level": "warning"' in line or '"level": "error"' in line
            for line in self.fetcher.log(10_000).splitlines()
        )
        print(
            f"{len(expected)} mails, {self.tap.republished} re-published"
            f" (allowed: the converter dedupes by mail key); {problems} warnings/errors logged"
            " by the fetcher while it recovered"
        )


@pytest.fixture
async def run(stack: StackEnv, tmp_path: Path) -> AsyncIterator[Run]:
    folder = f"r{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(append_mails, stack, folder, [])
    account = mail_account(stack, folder)
    store_url = f"sqlite:///{tmp_path / 'postroom.db'}"
    store = await open_store(store_url)
    await store.put_account(account)
    async with MailTap(stack.amqp_url, account.id) as tap:
        fetcher = start_fetcher(stack, store_url, tmp_path / "fetcher.log", batch=BATCH)
        try:
            yield Run(stack, folder, store, tap, fetcher)
        finally:
            fetcher.stop()
            await store.close()


async def test_rabbitmq_restart_mid_run(run: Run) -> None:
    first = run.append(6)
    await run.arrived(first)
    second = run.append(20)
    await run.arrived(set(list(second)[:1]))  # the fetcher is busy with this wave
    await asyncio.to_thread(rabbitmqctl, run.stack, "stop_app")
    try:
        during = run.append(6)
        await asyncio.sleep(3)  # the fetcher downloads these and cannot publish them
        left = set(uids_in(run.stack, run.folder)[1])
        during_uids = {int(key.rsplit("/", 1)[1]) for key in during}
        assert during_uids <= left, "mail deleted while the broker was down"
    finally:
        await asyncio.to_thread(rabbitmqctl, run.stack, "start_app")
    after = run.append(6)
    await run.finish(first | second | during | after)


async def test_dovecot_restart_mid_run(run: Run) -> None:
    first = run.append(6)
    await run.arrived(first)
    second = run.append(20)
    await run.arrived(set(list(second)[:1]))
    await asyncio.to_thread(restart_dovecot, run.stack)
    after = run.append(6)
    await run.finish(first | second | after)
