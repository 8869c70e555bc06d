"""The README's admin examples are true: every `bash` block of its "Administration over the
API" and "Work an item" sections runs, in order, in one shell against a fresh `make run` stack
(deploy/local/run.sh on ports of its own), the command-publishing example of "Work an item"
closes the item through the broker, and the example event consumer of its "Events" section
receives the item that the pushed mail became and its updates."""

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import aio_pika
import aio_pika.exceptions
import httpx
import pytest

from tests.e2e.runstack import running_stack, wait_for
from tests.stack_env import REPO, e2e_stack_env, short_state_dir

pytestmark = pytest.mark.e2e

CONSUMER_QUEUE = "my-service.item-events"
ADMIN, EVENTS = "Administration over the API", "Events: subscribing from another service"
WORK = "Work an item"


def section(markdown: str, title: str) -> str:
    """The text of the `## title` section, up to the next `## ` heading."""
    start = markdown.index(f"\n## {title}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else None]


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.DOTALL | re.MULTILINE)


def test_readme_sections_have_examples() -> None:
    readme = (REPO / "README.md").read_text()
    blocks = code_blocks(section(readme, ADMIN), "bash")
    joined = "\n".join(blocks)
    for needle in ("/v1/api-keys", "/v1/accounts", "/v1/items", "/v1/log", "/mail", "rotate-"):
        assert needle in joined, needle
    assert len(code_blocks(section(readme, EVENTS), "python")) == 1
    work = "\n".join(code_blocks(section(readme, WORK), "bash"))
    for needle in ("PATCH", "If-Match", "/notes", "/replies", "/notify", "Idempotency-Key"):
        assert needle in work, needle
    (command,) = code_blocks(section(readme, WORK), "python")
    assert "postroom.commands" in command and "item.change_status.v1" in command


def _queue_exists(amqp_url: str, name: str) -> bool:
    async def probe() -> bool:
        connection = await aio_pika.connect(amqp_url, timeout=5)
        try:
            channel = await connection.channel()
            await channel.declare_queue(name, passive=True)
            return True
        except aio_pika.exceptions.ChannelNotFoundEntity:
            return False
        finally:
            await connection.close()

    return asyncio.run(probe())


def _check_work(out: str, amqp_url: str, api: str, command_file: Path, state: Path) -> None:
    """What "Work an item" printed, then its command example closing the item."""
    lines = out.splitlines()
    for expected in (
        "item.change_status.v1 applied",
        "item.set_fields.v1 applied",
        "412",
        "note",
        '["lead@example.test"]',
    ):
        assert expected in lines, (expected, out)
    assert re.search(
        r"^(Re: )?\[INC-\d+\] Pushed over HTTP -> customer@example\.test$", out, flags=re.MULTILINE
    ), out
    (item_id,) = re.findall(r"^working on (\S+)$", out, flags=re.MULTILINE)
    sent = subprocess.run(
        [sys.executable, str(command_file), item_id],
        env=dict(os.environ, AMQP_URL=amqp_url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert sent.returncode == 0 and "asked to close" in sent.stdout, sent.stdout + sent.stderr
    auth = {"Authorization": f"Bearer {(state / 'admin-api-key').read_text().strip()}"}

    def closed() -> bool:
        item = httpx.get(f"{api}/v1/items/{item_id}", headers=auth, timeout=10).json()
        return bool(item["status"] == "closed")

    wait_for(closed, 30, "the command to close the item")


def test_readme_admin_examples_run_against_a_running_stack(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    blocks = code_blocks(section(readme, ADMIN), "bash") + code_blocks(
        section(readme, WORK), "bash"
    )
    script = "set -euo pipefail\n" + "\n".join(blocks)
    (consumer_code,) = code_blocks(section(readme, EVENTS), "python")
    consumer_file = tmp_path / "item_events.py"
    consumer_file.write_text(consumer_code)
    (command_code,) = code_blocks(section(readme, WORK), "python")
    command_file = tmp_path / "close_item.py"
    command_file.write_text(command_code)

    env = e2e_stack_env(short_state_dir("pr-readme-"), index=0, with_mongo=False)
    with running_stack(env, {}) as stack:
        consumer_log = (tmp_path / "consumer.log").open("w+")
        consumer = subprocess.Popen(
            [sys.executable, str(consumer_file)],
            env=dict(os.environ, AMQP_URL=env.amqp_url),
            stdout=consumer_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for(lambda: _queue_exists(env.amqp_url, CONSUMER_QUEUE), 30, "the consumer")
            run = subprocess.run(
                ["bash", "-c", script],
                cwd=REPO,
                env=env.environ(API=stack.api),
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
            assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
            out = run.stdout
            assert "403" in out.splitlines(), out  # the read-only key may not write
            assert re.search(r"^INC-\d+ \S+ Pushed over HTTP$", out, flags=re.MULTILINE), out
            assert re.search(r" created \S+/push/[0-9a-f]{64} ", out), out
            assert "already current" in out and "re-encrypted" in out, out
            _check_work(out, env.amqp_url, stack.api, command_file, env.state_dir)

            def consumed() -> bool:
                return "Pushed over HTTP" in (tmp_path / "consumer.log").read_text()

            wait_for(consumed, 20, "the README consumer to print the new item")
            assert "item.created.v1 INC-" in (tmp_path / "consumer.log").read_text()
            updated = r"^item\.updated\.v1 INC-\d+ Pushed over HTTP "
            log = (tmp_path / "consumer.log").read_text()
            assert len(re.findall(updated, log, flags=re.MULTILINE)) >= 5, log

            # run.sh gives each service a /metrics port next to the API's (8080 -> 9101-9103).
            converter = httpx.get(f"http://127.0.0.1:{env.api_port + 1022}/metrics", timeout=10)
            # the pushed mail went to the README's push account (its id is made by the API)
            created = r'^postroom_items_created_total\{account="[^"]+",item_type="incident"\} 1\.0$'
            assert re.search(created, converter.text, flags=re.MULTILINE), converter.text
            api = httpx.get(f"{stack.api}/metrics", timeout=10).text
            received = r'^postroom_mails_received_total\{account="[^"]+",source="api"\} 1\.0$'
            assert re.search(received, api, flags=re.MULTILINE), api
            assert 'postroom_queue_consumers{queue="converter.mail.received.v1"} 1.0' in api
        finally:
            os.killpg(consumer.pid, signal.SIGINT)
            try:
                consumer.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(consumer.pid, signal.SIGKILL)
                consumer.wait(timeout=10)
            consumer_log.close()
