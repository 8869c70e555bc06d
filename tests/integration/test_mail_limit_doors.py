"""One mail size limit at every door (issue 10: push took up to 200 MB while the converter
parses 25 MB, so mail in between was let in and then stuck). A mail one byte over the limit is
refused by `POST /v1/accounts/{id}/mail` (413) and by `postroom deliver` (exit 65); a mail of
exactly the limit goes in by both and becomes an item."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from postroom_converter.domain.outcome import Created, Outcome
from postroom_converter.service import Converter
from postroom_shared.ingest import push_mail_key
from postroom_shared.models import MAIL_BYTES_CEILING, EmailAccount
from tests.fetcher_proc import MailTap
from tests.integration.api_harness import SECRET, Api, converter_for, running_api
from tests.stack_env import REPO, StackEnv

pytestmark = pytest.mark.stack

POSTROOM = REPO / ".venv/bin/postroom"
RFC822 = {"Content-Type": "message/rfc822"}
EX_DATAERR, EX_TEMPFAIL = 65, 75


def mail_of_size(size: int, tag: str) -> bytes:
    head = (
        "From: customer@example.test\r\nTo: desk@example.test\r\n"
        f"Subject: {tag}\r\nMessage-ID: <{tag}@example.test>\r\n\r\n"
    ).encode()
    line = b"x" * 76 + b"\r\n"
    raw = head + line * ((size - len(head)) // len(line))
    return raw + b"y" * (size - len(raw))


@dataclass
class Doors:
    api: Api
    store_url: str
    stack: StackEnv
    converter: Converter
    account: EmailAccount

    async def deliver(self, raw: bytes, **env: str) -> tuple[int, str]:
        values = {
            "POSTROOM_STORE_URL": self.store_url,
            "POSTROOM_BROKER_URL": self.stack.amqp_url,
            "POSTROOM_SECRET_KEY": SECRET,
            **env,
        }
        proc = await asyncio.create_subprocess_exec(
            str(POSTROOM),
            "deliver",
            "--account",
            self.account.name,
            stdin=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.stack.environ(**values),
        )
        _, err = await asyncio.wait_for(proc.communicate(raw), 120)
        assert proc.returncode is not None
        return proc.returncode, err.decode()

    async def item_from(self, tap: MailTap, mail_key: str) -> Outcome:
        """Convert the event the door published for `mail_key`; returns the outcome."""
        await tap.wait_for_keys({mail_key}, 60)
        event = next(e for e in tap.events if e.mail_key == mail_key)
        return await self.converter.handle(event, final_attempt=True)


@pytest.fixture
async def doors(stack: StackEnv, sqlite_url: str) -> AsyncIterator[Doors]:
    async with running_api(stack, sqlite_url) as api:
        converter = await converter_for(api)
        # stored while an account could ask for 200 MB (the model would refuse it today)
        account = EmailAccount(
            id="acc_push",
            name="Web form",
            address="form@example.test",
            provider="push",
            project="Support",
        ).model_copy(update={"max_mail_bytes": 200 * 1024 * 1024})
        await api.store.put_account(account)
        yield Doors(api, sqlite_url, stack, converter, account)


async def test_one_byte_over_is_refused_at_both_doors(doors: Doors) -> None:
    over = mail_of_size(MAIL_BYTES_CEILING + 1, "one-byte-over")
    async with MailTap(doors.stack.amqp_url, doors.account.id) as tap:
        pushed = await doors.api.post(
            f"/v1/accounts/{doors.account.id}/mail", content=over, headers=RFC822
        )
        status, stderr = await doors.deliver(over)
        raised, raised_err = await doors.deliver(over, POSTROOM_MAX_MAIL_BYTES=str(200 * 2**20))
        await tap.settle(1.0)
    print(f"HTTP push of {len(over)} bytes: {pushed.status_code}; deliver: exit {status}")
    assert pushed.status_code == 413, pushed.text
    assert str(MAIL_BYTES_CEILING) in pushed.json()["detail"]
    assert status == EX_DATAERR, stderr
    assert str(MAIL_BYTES_CEILING) in stderr
    # the deployment cannot raise the ceiling either: a settings error, the MTA keeps the mail
    assert raised == EX_TEMPFAIL and "max_mail_bytes" in raised_err, raised_err
    assert tap.events == [], "nothing over the limit was published"


async def test_exactly_the_limit_goes_in_by_both_doors_and_becomes_an_item(doors: Doors) -> None:
    by_http = mail_of_size(MAIL_BYTES_CEILING, "at-the-limit-http")
    by_pipe = mail_of_size(MAIL_BYTES_CEILING, "at-the-limit-pipe")
    async with MailTap(doors.stack.amqp_url, doors.account.id) as tap:
        pushed = await doors.api.post(
            f"/v1/accounts/{doors.account.id}/mail", content=by_http, headers=RFC822
        )
        assert pushed.status_code == 202, pushed.text
        assert await doors.deliver(by_pipe) == (0, "")
        outcomes = [
            await doors.item_from(tap, pushed.json()["mail_key"]),
            await doors.item_from(tap, push_mail_key(doors.account.id, by_pipe)),
        ]
    print(f"{MAIL_BYTES_CEILING} bytes: {outcomes}")
    assert all(isinstance(outcome, Created) for outcome in outcomes), outcomes
    titles = {item.title for item in await doors.api.store.list_items()}
    assert {"at-the-limit-http", "at-the-limit-pipe"} <= titles
