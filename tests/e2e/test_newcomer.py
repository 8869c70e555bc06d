"""The newcomer's acceptance test, end to end on real servers (issue #2).

It runs `deploy/local/run.sh` (what `make run` runs) exactly as a person would, on ports of its
own, sends a mail through Postfix, watches the item appear through the API and the auto-reply
land in the customer's IMAP INBOX, replies to it, and finally presses Ctrl-C and checks that
every process it started is gone. Once on SQLite (the default) and once on MongoDB.
"""

import email
import imaplib
import os
import re
import shutil
import signal
import smtplib
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.stack_env import REPO, StackEnv, e2e_stack_env

pytestmark = pytest.mark.e2e


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


def _pump(proc: subprocess.Popen[str], sink: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        sink.append(line.rstrip("\n"))


def _start(env: StackEnv, extra: dict[str, str]) -> RunningStack:
    proc = subprocess.Popen(
        [str(REPO / "deploy/local/run.sh")],
        env=env.environ(**extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    threading.Thread(target=_pump, args=(proc, output), daemon=True).start()
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


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _pids(state: Path) -> dict[str, int]:
    found = {}
    for path in [*(state / "pids").glob("*"), *(state / "stack" / "pids").glob("*")]:
        text = path.read_text().strip()
        if text.isdigit():
            found[path.name] = int(text)
    return found


def _ctrl_c(stack: RunningStack) -> dict[str, int]:
    started = _pids(stack.env.state_dir)
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


def _inbox(env: StackEnv, user: str) -> list[EmailMessage]:
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


def _send(env: StackEnv, msg: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", env.smtp_port, timeout=10) as smtp:
        smtp.send_message(msg)


@pytest.fixture(params=["sqlite", "mongodb"])
def running(request: pytest.FixtureRequest) -> Iterator[RunningStack]:
    mongo = request.param == "mongodb"
    # Short path: Dovecot's and Postfix's unix sockets live under it (108-byte limit).
    state = Path(tempfile.mkdtemp(prefix="pr-e2e-", dir="/tmp"))
    state.chmod(0o755)  # Dovecot's vmail user must reach the mail below it
    env = e2e_stack_env(state, index=1 if mongo else 0, with_mongo=mongo)
    extra = (
        {
            "POSTROOM_STORE_URL": f"mongodb://127.0.0.1:{env.mongo_port}/postroom?directConnection=true"
        }
        if mongo
        else {}
    )
    stack = _start(env, extra)
    stopped = False
    try:
        yield stack
        started = _ctrl_c(stack)
        stopped = True
        assert stack.proc.returncode == 0, "\n".join(stack.output[-40:])
        assert {"api", "fetcher", "converter", "replier"} <= started.keys()
        still = {name: pid for name, pid in started.items() if _alive(pid)}
        assert not still, f"still running after Ctrl-C: {still}"
    finally:
        if not stopped:
            _ctrl_c(stack)
        shutil.rmtree(state, ignore_errors=True)


def test_mail_becomes_item_gets_auto_reply_and_reply_threads(running: RunningStack) -> None:
    env = running.env
    assert running.get("/healthz").status_code == 200
    assert httpx.get(running.api + "/v1/items", timeout=10).status_code == 401
    assert httpx.get(running.api + "/docs", timeout=10).status_code == 200

    again = subprocess.run(
        [str(REPO / "deploy/local/run.sh")],
        env=env.environ(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0 and "already running" in again.stdout

    # 1. the customer writes to support
    first = EmailMessage()
    first["From"] = "Casey Customer <customer@example.test>"
    first["To"] = "support@example.test"
    first["Subject"] = "Printer on fire"
    first["Message-ID"] = "<first-1@example.test>"
    first.set_content("The printer on floor 2 is on fire.")
    sent_at = time.monotonic()
    _send(env, first)

    items = wait_for(lambda: running.get("/v1/items").json(), 10, "the item in GET /v1/items")
    item_seconds = time.monotonic() - sent_at
    assert len(items) == 1
    item = items[0]
    assert (item["number"], item["type"], item["token"]) == (1, "incident", "INC-1")
    assert item["title"] == "Printer on fire" and item["status"] == "new"
    assert item["requester"]["address"] == "customer@example.test"
    assert item["messages"] >= 1 and item["created_at"] and item["updated_at"]

    # 2. the auto-reply lands in the customer's INBOX
    replies = wait_for(lambda: _inbox(env, "customer"), 20, "the auto-reply in customer's INBOX")
    reply_seconds = time.monotonic() - sent_at
    assert len(replies) == 1
    auto = replies[0]
    assert "<support@example.test>" in str(auto["From"])
    assert "[INC-1]" in auto["Subject"]
    assert auto["Auto-Submitted"] == "auto-replied"
    assert auto["X-Auto-Response-Suppress"] == "All"
    assert auto["In-Reply-To"] == "<first-1@example.test>"
    assert "<first-1@example.test>" in auto["References"]
    print(f"item visible after {item_seconds:.1f} s, auto-reply after {reply_seconds:.1f} s")

    # 3. the customer answers the auto-reply, keeping the token
    answer = EmailMessage()
    answer["From"] = "Casey Customer <customer@example.test>"
    answer["To"] = "support@example.test"
    answer["Subject"] = "Re: " + str(auto["Subject"])
    answer["Message-ID"] = "<answer-1@example.test>"
    answer["In-Reply-To"] = auto["Message-ID"]
    answer["References"] = f"{auto['References']} {auto['Message-ID']}"
    answer.set_content("It is still burning.")
    _send(env, answer)

    def threaded() -> dict[str, Any] | None:
        detail: dict[str, Any] = running.get(f"/v1/items/{item['id']}").json()
        return detail if len(detail["thread"]) >= 3 else None

    detail = wait_for(threaded, 20, "the answer on the item's thread")
    directions = [(m["direction"], m["subject"]) for m in detail["thread"]]
    assert [d for d, _ in directions] == ["in", "out", "in"], directions
    assert detail["thread"][2]["text"] == "It is still burning."
    assert len(running.get("/v1/items").json()) == 1

    # 4. no second auto-reply: the replier has handled the update (it logs the suppression)
    log = env.state_dir / "log" / "replier.log"
    wait_for(lambda: "not the first mail" in log.read_text(), 20, "the replier's decision")
    time.sleep(2)
    assert len(_inbox(env, "customer")) == 1
    assert re.search(r'"event": "auto-reply sent"', log.read_text())
