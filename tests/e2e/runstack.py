"""Running the whole product through deploy/local/run.sh for end-to-end tests, and reading
what it did: the same start, mailboxes and Ctrl-C a person uses."""

import email
import imaplib
import os
import shutil
import signal
import smtplib
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.stack_env import REPO, StackEnv, e2e_stack_env, short_state_dir

__all__ = [
    "RunningStack", "alive", "background_stack", "ctrl_c", "mailbox", "running_stack", "send",
    "stack_on", "start_run", "started_pids", "wait_for",
]  # fmt: skip


@dataclass
class RunningStack:
    env: StackEnv
    proc: subprocess.Popen[str]
    api_key: str
    output: list[str] = field(default_factory=list)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.env.api_port}"

    def get(self, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        return httpx.get(self.api + path, headers=headers, timeout=10, **kw)


def pump(proc: subprocess.Popen[str], sink: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        sink.append(line.rstrip("\n"))


def start_run(env: StackEnv, extra: dict[str, str]) -> RunningStack:
    proc = subprocess.Popen(
        [str(REPO / "deploy/local/run.sh")],
        env=env.environ(**extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    threading.Thread(target=pump, args=(proc, output), daemon=True).start()
    deadline = time.monotonic() + 300
    while not any("Press Ctrl-C" in line for line in output):
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
            proc.wait(timeout=120)
            if proc.stdout is not None:
                proc.stdout.close()
            pytest.fail("run.sh did not come up:\n" + "\n".join(output[-60:]))
        time.sleep(0.2)
    key_line = next(line for line in output if "Admin API key" in line)
    api_key = key_line.split("Admin API key", 1)[1].split()[0]
    return RunningStack(env=env, proc=proc, api_key=api_key, output=output)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def started_pids(state: Path) -> dict[str, int]:
    found = {}
    for path in [*(state / "pids").glob("*"), *(state / "stack" / "pids").glob("*")]:
        text = path.read_text().strip()
        if text.isdigit():
            found[path.name] = int(text)
    return found


def ctrl_c(stack: RunningStack) -> dict[str, int]:
    started = started_pids(stack.env.state_dir)
    os.killpg(stack.proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
    stack.proc.wait(timeout=120)
    if stack.proc.stdout is not None:
        stack.proc.stdout.close()
    return started


def wait_for[T](probe: Callable[[], T | None], timeout_s: float, what: str) -> T:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.2)


def mailbox(env: StackEnv, user: str) -> list[EmailMessage]:
    """Every message in `user`'s INBOX, read without touching flags."""
    with imaplib.IMAP4("127.0.0.1", env.imap_port) as imap:
        imap.login(f"{user}@example.test", user)
        imap.select("INBOX", readonly=True)
        _, data = imap.search(None, "ALL")
        messages = []
        for num in data[0].split():
            _, parts = imap.fetch(num.decode(), "(BODY.PEEK[])")
            raw = parts[0][1] if parts and isinstance(parts[0], tuple) else b""
            parsed = email.message_from_bytes(raw, policy=default_policy)
            assert isinstance(parsed, EmailMessage)
            messages.append(parsed)
        return messages


def send(env: StackEnv, msg: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", env.smtp_port, timeout=10) as smtp:
        smtp.send_message(msg)


@contextmanager
def running_stack(env: StackEnv, extra: dict[str, str]) -> Iterator[RunningStack]:
    """`run.sh` up for the block; then Ctrl-C, and every process it started must be gone.
    The state directory is removed either way."""
    stack = start_run(env, extra)
    stopped = False
    try:
        yield stack
        started = ctrl_c(stack)
        stopped = True
        assert stack.proc.returncode == 0, "\n".join(stack.output[-40:])
        assert {"api", "fetcher", "converter", "replier"} <= started.keys()
        still = {name: pid for name, pid in started.items() if alive(pid)}
        assert not still, f"still running after Ctrl-C: {still}"
    finally:
        if not stopped:
            ctrl_c(stack)
        shutil.rmtree(env.state_dir, ignore_errors=True)


@contextmanager
def stack_on(backend: str, prefix: str) -> Iterator[RunningStack]:
    """`running_stack` on the embedded SQLite store (`backend` "sqlite", ports 21xxx) or on the
    MongoDB adapter against the stack's mongoeco wire server ("mongodb", ports 22xxx)."""
    mongo = backend == "mongodb"
    env = e2e_stack_env(short_state_dir(prefix), index=1 if mongo else 0, with_mongo=mongo)
    url = f"mongodb://127.0.0.1:{env.mongo_port}/postroom?directConnection=true"
    with running_stack(env, {"POSTROOM_STORE_URL": url} if mongo else {}) as stack:
        yield stack


@contextmanager
def background_stack(env: StackEnv, extra: dict[str, str]) -> Iterator[RunningStack]:
    """`run.sh --background` (`make start`) up for the block; then `run.sh --stop`, and every
    process recorded in its pid files (also one a test restarted and recorded there) must be
    gone. Unlike the foreground run, nothing stops the stack when a service dies, so a test can
    kill and restart services as a process supervisor would."""
    run_sh = str(REPO / "deploy/local/run.sh")
    proc = subprocess.Popen(
        [run_sh, "--background"],
        env=env.environ(**extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    stopped = False
    try:
        out, _ = proc.communicate(timeout=300)
        output = out.splitlines()
        if proc.returncode != 0:
            pytest.fail("run.sh --background did not come up:\n" + "\n".join(output[-60:]))
        key_line = next(line for line in output if "Admin API key" in line)
        api_key = key_line.split("Admin API key", 1)[1].split()[0]
        yield RunningStack(env=env, proc=proc, api_key=api_key, output=output)
        pids = started_pids(env.state_dir)
        stop = subprocess.run(
            [run_sh, "--stop"], env=env.environ(**extra), capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip
        stopped = True
        assert stop.returncode == 0, stop.stdout[-4000:] + stop.stderr[-4000:]
        assert {"api", "fetcher", "converter", "replier"} <= pids.keys()
        still = {name: pid for name, pid in pids.items() if alive(pid)}
        assert not still, f"still running after run.sh --stop: {still}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        if not stopped:
            subprocess.run(
                [run_sh, "--stop"], env=env.environ(**extra), capture_output=True, timeout=300,
                check=False,
            )  # fmt: skip
        shutil.rmtree(env.state_dir, ignore_errors=True)
