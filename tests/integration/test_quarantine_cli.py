"""`postroom quarantine …` against a real store and broker."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from postroom_converter.domain.outcome import Quarantined
from postroom_converter.service import Converter
from postroom_converter.settings import ConverterSettings
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.runtime import make_broker
from postroom_shared.store import open_store
from postroom_shared.topology import declare_topology
from tests import factories
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack
SECRET = "q" * 40
POSTROOM = Path(sys.executable).parent / "postroom"
# 150 nested multiparts: over the depth cap, so the converter quarantines it at once.
DEEP = (
    b"From: a@example.org\r\nSubject: deep\r\n"
    + b"".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'.encode()
        for i in range(150)
    )
    + b"Content-Type: text/plain\r\n\r\nhi\r\n"
)


def _cli(stack: StackEnv, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ,
        POSTROOM_STORE_URL=url,
        POSTROOM_SECRET_KEY=SECRET,
        POSTROOM_BROKER_URL=stack.amqp_url,
    )
    return subprocess.run(
        [str(POSTROOM), "quarantine", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_list_show_reprocess_discard(stack: StackEnv, store_url: str) -> None:
    store = await open_store(store_url)
    await store.put_account(factories.account())
    settings = ConverterSettings(
        store_url=store_url, broker_url=stack.amqp_url, secret_key=SecretStr(SECRET)
    )
    broker = make_broker(settings)
    await broker.connect()
    await declare_topology(broker)
    converter = Converter(store=store, broker=broker, signer=MessageIdSigner(SECRET, ""))
    for uid in (1, 2):
        outcome = await converter.handle(factories.mail_received(f"acc1/INBOX/1/{uid}", DEEP))
        assert isinstance(outcome, Quarantined) and outcome.reason.startswith("MIME nesting")
    await broker.stop()
    await store.close()

    listing = _cli(stack, store_url, "list")
    assert listing.returncode == 0, listing.stderr
    rows = [line.split("\t") for line in listing.stdout.splitlines()]
    assert len(rows) == 2 and all("MIME nesting" in row[4] for row in rows)
    first, second = rows[0][0], rows[1][0]

    shown = _cli(stack, store_url, "show", first)
    assert shown.returncode == 0 and json.loads(shown.stdout)["id"] == first

    again = _cli(stack, store_url, "reprocess", first)
    assert again.returncode == 0 and again.stdout.startswith("quarantined: MIME nesting")
    assert _cli(stack, store_url, "discard", second).stdout.strip() == "discarded"
    assert _cli(stack, store_url, "discard", second).returncode == 1
    assert _cli(stack, store_url, "reprocess").returncode == 2
    remaining = _cli(stack, store_url, "list").stdout.splitlines()
    assert len(remaining) == 1 and remaining[0].startswith(first)
    assert remaining[0].split("\t")[2] == "2"  # attempts
