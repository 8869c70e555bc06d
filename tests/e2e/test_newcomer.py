"""The newcomer's acceptance test, end to end on real servers (issue #2).

It runs `deploy/local/run.sh` (what `make run` runs) exactly as a person would, on ports of its
own, sends a mail through Postfix, watches the item appear through the API and the auto-reply
land in the customer's IMAP INBOX, replies to it, and finally presses Ctrl-C and checks that
every process it started is gone. Once on SQLite (the default) and once on MongoDB.
"""

import re
import subprocess
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from tests.e2e.runstack import (
    RunningStack,
    mailbox,
    send,
    stack_on,
    wait_for,
)
from tests.stack_env import REPO

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["sqlite", "mongodb"])
def running(request: pytest.FixtureRequest) -> Iterator[RunningStack]:
    with stack_on(request.param, "pr-e2e-") as stack:
        yield stack


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
    send(env, first)

    items = wait_for(
        lambda: running.get("/v1/items").json()["items"], 10, "the item in GET /v1/items"
    )
    item_seconds = time.monotonic() - sent_at
    assert len(items) == 1
    item = items[0]
    assert (item["number"], item["type"], item["token"]) == (1, "incident", "INC-1")
    assert item["title"] == "Printer on fire" and item["status"] == "new"
    assert item["requester"]["address"] == "customer@example.test"
    assert item["messages"] >= 1 and item["created_at"] and item["updated_at"]

    # 2. the auto-reply lands in the customer's INBOX
    replies = wait_for(lambda: mailbox(env, "customer"), 20, "the auto-reply in customer's INBOX")
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
    send(env, answer)

    def threaded() -> dict[str, Any] | None:
        detail: dict[str, Any] = running.get(f"/v1/items/{item['id']}").json()
        return detail if len(detail["thread"]) >= 3 else None

    detail = wait_for(threaded, 20, "the answer on the item's thread")
    directions = [(m["direction"], m["subject"]) for m in detail["thread"]]
    assert [d for d, _ in directions] == ["in", "out", "in"], directions
    assert detail["thread"][2]["text"] == "It is still burning."
    assert len(running.get("/v1/items").json()["items"]) == 1

    # 4. no second auto-reply: the replier has handled the update (it logs the suppression)
    log = env.state_dir / "log" / "replier.log"
    wait_for(lambda: "not the first mail" in log.read_text(), 20, "the replier's decision")
    time.sleep(2)
    assert len(mailbox(env, "customer")) == 1
    assert re.search(r'"event": "auto-reply sent"', log.read_text())
