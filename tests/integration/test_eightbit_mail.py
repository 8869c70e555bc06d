"""Mail whose bytes are not UTF-8 (8-bit Latin-1 headers or body, binary parts sent 8bit) must
travel like any other mail, pushed or fetched (found by the schemathesis run of the push route).

`mail.received.v1` carries small mail in `raw_inline`; it used to be serialised to JSON as UTF-8
text, so such mail could not be published at all: a push was answered 503 for ever, and a fetch
failed its whole batch at every attempt (nothing deleted, the checkpoint stuck, the rest of the
batch published again at each retry). The contract now carries it as base64, as documented.
"""

import asyncio
import uuid
from pathlib import Path

import pytest

from postroom_shared.contracts import MailReceivedV1
from postroom_shared.ingest import imap_mail_key
from postroom_shared.store import open_store
from tests.fetcher_proc import MailTap, append_mails, mail_account, start_fetcher, uids_in
from tests.integration.api_harness import converter_for, running_api
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack


def latin1_mail(tag: str) -> bytes:
    return (
        f"From: Zoe <zoe@example.org>\r\nTo: support@example.test\r\n"
        f"Subject: caf\xe9 {tag}\r\nMessage-ID: <{tag}@example.org>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\nD\xe9j\xe0 vu: the printer is on fire.\r\n"
    ).encode("latin-1")


async def test_pushed_8bit_mail_is_accepted_and_becomes_an_item(
    stack: StackEnv, sqlite_url: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    raw = latin1_mail(tag)
    async with running_api(stack, sqlite_url) as api:
        converter = await converter_for(api)
        created = await api.post(
            "/v1/accounts",
            json={"name": "Web form", "address": "web@example.test", "provider": "push",
                  "project": "Support", "active": True},
        )  # fmt: skip
        account = created.json()["id"]
        async with MailTap(stack.amqp_url, account) as tap:
            pushed = await api.post(
                f"/v1/accounts/{account}/mail",
                content=raw,
                headers={"Content-Type": "message/rfc822"},
            )
            assert pushed.status_code == 202, pushed.text
            await tap.wait_for_keys({pushed.json()["mail_key"]}, 20)
        event: MailReceivedV1 = tap.events[0]
        await converter.handle(event)
        items = (await api.get("/v1/items")).json()["items"]
    assert [item["title"] for item in items] == [f"café {tag}"]


async def test_fetched_8bit_mail_does_not_stop_the_mailbox(stack: StackEnv, tmp_path: Path) -> None:
    folder = f"e{uuid.uuid4().hex[:8]}"
    plain = f"From: a@example.org\r\nSubject: fine\r\nMessage-ID: <{folder}@x>\r\n\r\nhi\r\n"
    await asyncio.to_thread(append_mails, stack, folder, [latin1_mail(folder), plain.encode()])
    uidvalidity, uids = uids_in(stack, folder)
    account = mail_account(stack, folder)
    store_url = f"sqlite:///{tmp_path / 'postroom.db'}"
    store = await open_store(store_url)
    try:
        await store.put_account(account)
    finally:
        await store.close()
    expected = {imap_mail_key(account.id, folder, uidvalidity, uid) for uid in uids}
    async with MailTap(stack.amqp_url, account.id) as tap:
        fetcher = start_fetcher(stack, store_url, tmp_path / "fetcher.log")
        try:
            await tap.wait_for_keys(expected, 20)
        finally:
            fetcher.stop()
    assert uids_in(stack, folder)[1] == [], "the mailbox was not emptied:\n" + fetcher.log(5)
