"""The README's admin examples are true: every `bash` block of its "Administration over the
API" section runs, in order, in one shell against a fresh `make run` stack (deploy/local/run.sh
on ports of its own), and the example event consumer of its "Events" section receives the item
that the pushed mail became."""

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


def test_readme_admin_examples_run_against_a_running_stack(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    script = "set -euo pipefail\n" + "\n".join(code_blocks(section(readme, ADMIN), "bash"))
    (consumer_code,) = code_blocks(section(readme, EVENTS), "python")
    consumer_file = tmp_path / "item_events.py"
    consumer_file.write_text(consumer_code)

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

            def consumed() -> bool:
                return "Pushed over HTTP" in (tmp_path / "consumer.log").read_text()

            wait_for(consumed, 20, "the README consumer to print the new item")
            assert "item.created.v1 INC-" in (tmp_path / "consumer.log").read_text()

            # run.sh gives each service a /metrics port next to the API's (8080 -> 9101-9103).
            converter = httpx.get(f"http://127.0.0.1:{env.api_port + 1022}/metrics", timeout=10)
            created = (
                'postroom_items_created_total{account="acc_demo_support",item_type="incident"}'
            )
            assert created in converter.text
            api = httpx.get(f"{stack.api}/metrics", timeout=10).text
            assert 'postroom_mails_received_total{account="acc_demo_support",source="api"}' in api
            assert 'postroom_queue_consumers{queue="converter.mail.received.v1"} 1.0' in api
        finally:
            os.killpg(consumer.pid, signal.SIGINT)
            try:
                consumer.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(consumer.pid, signal.SIGKILL)
                consumer.wait(timeout=10)
            consumer_log.close()
