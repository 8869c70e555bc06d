"""API keys and scopes, secret-key rotation, push over HTTP, metrics and the AsyncAPI document,
on a real store and broker."""

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator
from email.message import EmailMessage

import aio_pika
import httpx
import pytest
from fastapi import APIRouter

from postroom_api.auth import RequireRead
from postroom_cli.rotation import rotate_secrets
from postroom_shared.contracts import MailReceivedV1
from postroom_shared.models import (
    AccountState,
    EmailAccount,
    MailboxSettings,
    OAuthSettings,
    SmtpSettings,
)
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import open_store
from postroom_shared.topology import EVENTS
from tests.conftest import free_port
from tests.integration.api_app import ADMIN_KEY, SECRET, api_client, bearer
from tests.stack_env import REPO, StackEnv

Client = httpx.AsyncClient
POSTROOM = str(REPO / ".venv/bin/postroom")


# A router guarded the way resource routers are (RequireRead on the router, both methods).
probe = APIRouter(prefix="/v1/probe", dependencies=[RequireRead])


@probe.get("")
async def probe_read() -> dict[str, str]:
    return {"read": "ok"}


@probe.post("")
async def probe_write() -> dict[str, str]:
    return {"written": "ok"}


@pytest.fixture
async def client(stack: StackEnv, sqlite_url: str) -> AsyncIterator[Client]:
    async with api_client(sqlite_url, stack.amqp_url, routers=[probe]) as test_client:
        yield test_client


async def _new_key(client: Client, *scopes: str, accounts: tuple[str, ...] = ()) -> str:
    body = {"name": f"test {'+'.join(scopes)}", "scopes": list(scopes), "account_ids": accounts}
    response = await client.post("/v1/api-keys", json=body, headers=bearer())
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


async def _put_account(store_url: str, account_id: str = "acc_push", **extra: object) -> None:
    store = await open_store(store_url)
    try:
        await store.put_account(
            EmailAccount(
                id=account_id,
                name=f"Push {account_id}",
                address=f"{account_id}@example.test",
                provider="push",
                project="Support",
                **extra,  # type: ignore[arg-type]
            )
        )
    finally:
        await store.close()


def _mail(subject: str = "Printer on fire", size: int = 0) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "c@example.test", "s@example.test", subject
    msg["Message-ID"] = f"<{subject.replace(' ', '.')}@example.test>"
    msg.set_content("It burns.\n" + "x" * size)
    return msg.as_bytes()


RFC822 = {"Content-Type": "message/rfc822"}


# --- keys and scopes -----------------------------------------------------------------------


@pytest.mark.stack
async def test_read_key_reads_but_never_writes_and_revocation_is_immediate(
    client: Client,
) -> None:
    read = await _new_key(client, "read")
    assert read.startswith("pr_key_")
    assert (await client.get("/v1/probe", headers=bearer(read))).status_code == 200
    denied = await client.post("/v1/probe", headers=bearer(read))
    assert denied.status_code == 403
    assert "read-only" in denied.json()["detail"] and "admin" in denied.json()["detail"]
    assert (await client.post("/v1/probe", headers=bearer())).status_code == 200
    create = {"name": "x", "scopes": ["admin"]}
    assert (await client.post("/v1/api-keys", json=create, headers=bearer(read))).status_code == 403
    assert (await client.get("/v1/api-keys", headers=bearer(read))).status_code == 403

    listed = (await client.get("/v1/api-keys", headers=bearer())).json()
    assert [k["scopes"] for k in listed] == [["read"]]
    assert read not in str(listed) and "key_hash" not in str(listed)
    assert read.startswith(listed[0]["prefix"])

    gone = await client.delete(f"/v1/api-keys/{listed[0]['id']}", headers=bearer())
    assert gone.status_code == 204
    assert (await client.get("/v1/probe", headers=bearer(read))).status_code == 401
    again = await client.delete(f"/v1/api-keys/{listed[0]['id']}", headers=bearer())
    assert again.status_code == 404


@pytest.mark.stack
async def test_deliver_key_only_pushes_and_only_to_its_accounts(
    client: Client, sqlite_url: str
) -> None:
    await _put_account(sqlite_url, "acc_a")
    await _put_account(sqlite_url, "acc_b")
    deliver = await _new_key(client, "deliver", accounts=("acc_a",))
    assert (await client.get("/v1/probe", headers=bearer(deliver))).status_code == 403
    ok = await client.post(
        "/v1/accounts/acc_a/mail", content=_mail(), headers=RFC822 | bearer(deliver)
    )
    assert ok.status_code == 202, ok.text
    other = await client.post(
        "/v1/accounts/acc_b/mail", content=_mail(), headers=RFC822 | bearer(deliver)
    )
    assert other.status_code == 403
    read = await _new_key(client, "read")
    refused = await client.post(
        "/v1/accounts/acc_a/mail", content=_mail(), headers=RFC822 | bearer(read)
    )
    assert refused.status_code == 403


@pytest.mark.stack
async def test_openapi_documents_401_and_403_on_guarded_routes_only(client: Client) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    public_v1 = set()
    for path, operations in paths.items():
        for operation in operations.values():
            guarded = "security" in operation
            assert ("401" in operation["responses"]) is guarded, path
            assert ("403" in operation["responses"]) is guarded, path
            if path.startswith("/v1/") and not guarded:
                public_v1.add(path)
    # The OAuth provider redirects the admin's browser there: the sealed state authenticates.
    assert public_v1 <= {"/v1/oauth/callback"}


@pytest.mark.stack
async def test_cli_keys_work_against_the_api(client: Client, sqlite_url: str) -> None:
    env = dict(os.environ, POSTROOM_STORE_URL=sqlite_url, POSTROOM_SECRET_KEY=SECRET)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [POSTROOM, *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    made = cli("api-key", "create", "--name", "reporting", "--scope", "read")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    assert key.startswith("pr_key_") and "\n" not in key
    assert (await client.get("/v1/probe", headers=bearer(key))).status_code == 200
    listing = cli("api-key", "list")
    assert "reporting" in listing.stdout and "active" in listing.stdout
    assert key not in listing.stdout
    key_id = listing.stdout.split("\t", 1)[0]
    assert cli("api-key", "revoke", key_id).returncode == 0
    assert (await client.get("/v1/probe", headers=bearer(key))).status_code == 401
    assert cli("api-key", "revoke", key_id).returncode == 1
    assert "revoked" in cli("api-key", "list").stdout


@pytest.mark.stack
async def test_bootstrap_admin_key_is_compared_in_full(client: Client) -> None:
    assert (await client.get("/v1/api-keys", headers=bearer(ADMIN_KEY))).status_code == 200
    assert (await client.get("/v1/api-keys", headers=bearer(ADMIN_KEY[:-1]))).status_code == 401
    assert (await client.get("/v1/api-keys", headers=bearer("pr_key_x_y"))).status_code == 401


# --- push over HTTP ------------------------------------------------------------------------


@pytest.mark.stack
async def test_pushed_mail_is_published_on_the_broker(
    client: Client, stack: StackEnv, sqlite_url: str
) -> None:
    await _put_account(sqlite_url)
    await _put_account(sqlite_url, "acc_off", active=False)
    await _put_account(sqlite_url, "acc_small", max_mail_bytes=2048)
    connection = await aio_pika.connect(stack.amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(EVENTS.name, routing_key="mail.received.v1")
        raw = _mail("Pushed over HTTP")
        response = await client.post(
            "/v1/accounts/acc_push/mail", content=raw, headers=RFC822 | bearer()
        )
        assert response.status_code == 202, response.text
        mail_key = response.json()["mail_key"]
        assert mail_key.startswith("acc_push/push/")
        async with asyncio.timeout(10):
            async with queue.iterator() as messages:
                async for message in messages:
                    async with message.process():
                        event = MailReceivedV1.model_validate_json(message.body)
                    if event.mail_key == mail_key:
                        break
        assert event.account_id == "acc_push" and event.source == "api"
        assert event.raw_inline == raw
    finally:
        await connection.close()

    url = "/v1/accounts/{}/mail"
    big = await client.post(
        url.format("acc_small"), content=_mail(size=4000), headers=RFC822 | bearer()
    )
    assert big.status_code == 413 and "2048" in big.json()["detail"]
    missing = await client.post(url.format("nope"), content=raw, headers=RFC822 | bearer())
    assert missing.status_code == 404
    inactive = await client.post(url.format("acc_off"), content=raw, headers=RFC822 | bearer())
    assert inactive.status_code == 409
    wrong_type = await client.post(url.format("acc_push"), content=raw, headers=bearer())
    assert wrong_type.status_code == 415
    empty = await client.post(url.format("acc_push"), content=b"", headers=RFC822 | bearer())
    assert empty.status_code == 400

    metrics = (await client.get("/metrics")).text
    assert 'postroom_mails_received_total{account="acc_push",source="api"}' in metrics


@pytest.mark.stack
async def test_push_while_the_broker_is_down_is_503_with_retry_after(sqlite_url: str) -> None:
    await _put_account(sqlite_url)
    dead = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    async with api_client(sqlite_url, dead, wait_for_broker=False) as client:
        response = await client.post(
            "/v1/accounts/acc_push/mail", content=_mail(), headers=RFC822 | bearer()
        )
        assert response.status_code == 503
        assert int(response.headers["retry-after"]) > 0
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz", params={"services": "false"})
        assert ready.status_code == 503 and ready.json()["checks"]["broker"] == "unreachable"


# --- metrics and AsyncAPI -------------------------------------------------------------------


@pytest.mark.stack
async def test_metrics_report_system_gauges(client: Client, sqlite_url: str) -> None:
    store = await open_store(sqlite_url)
    try:
        await store.put_account_state(
            AccountState(account_id="acc_broken", status="error", failures=3, error_kind="auth")
        )
    finally:
        await store.close()
    text = (await client.get("/metrics")).text
    assert "postroom_quarantine_size 0.0" in text
    assert 'postroom_account_fetch_failures{account="acc_broken"} 3.0' in text
    assert 'postroom_account_status{account="acc_broken",status="error"} 1.0' in text
    assert 'postroom_queue_messages_ready{queue="converter.mail.received.v1"}' in text
    assert 'postroom_queue_messages_ready{queue="replier.item.created.v1.dlq"}' in text
    assert 'postroom_system_gauges_errors{source="broker"} 0.0' in text


@pytest.mark.stack
async def test_asyncapi_describes_every_event(client: Client) -> None:
    document = (await client.get("/asyncapi.json")).json()
    assert document["asyncapi"].startswith("3.")
    published = {
        channel["address"]
        for name, channel in document["channels"].items()
        if name.endswith(":publish")
    }
    assert published >= {
        "mail.received.v1", "item.created.v1", "item.updated.v1", "mail.ignored.v1",
        "mail.quarantined.v1", "account.state.v1", "reply.sent.v1", "reply.suppressed.v1",
        "reply.failed.v1",
    }  # fmt: skip
    exchange = document["channels"]["item.created.v1:publish"]["bindings"]["amqp"]["exchange"]
    assert exchange["name"] == "postroom.events" and exchange["type"] == "topic"
    assert "ItemCreatedV1" in document["components"]["schemas"]
    html = await client.get("/asyncapi")
    assert html.status_code == 200 and "asyncapi" in html.text.lower()


# --- secret-key rotation (both store backends) ----------------------------------------------


OLD, NEW = "o" * 40, "n" * 40


async def test_rotate_secrets_re_encrypts_everything_once(store_url: str) -> None:
    old = SecretBox(OLD)
    oauth = OAuthSettings(
        client_id="cid",
        client_secret_enc=old.encrypt("client-secret"),
        refresh_token_enc=old.encrypt("refresh"),
    )
    store = await open_store(store_url)
    try:
        await store.put_account(
            EmailAccount(
                id="acc_imap",
                name="IMAP",
                address="imap@example.test",
                project="P",
                mailbox=MailboxSettings(
                    host="h", port=993, username="u", password_enc=old.encrypt("pw")
                ),
            )
        )
        await store.put_account(
            EmailAccount(
                id="acc_ms",
                name="Microsoft",
                address="ms@example.test",
                provider="microsoft",
                project="P",
                mailbox=MailboxSettings(host="outlook.office365.com", port=993, username="ms"),
                oauth=oauth,
            )
        )
        await store.put_smtp_settings(
            SmtpSettings(host="smtp", port=587, username="u", password_enc=old.encrypt("smtp-pw"))
        )
        box = SecretBox(NEW, [OLD])
        report = await rotate_secrets(store, box)
        assert report.rotated == {
            "mailbox passwords": 1,
            "oauth client secrets": 1,
            "oauth refresh tokens": 1,
            "smtp passwords": 1,
        }
        assert report.failed == []
        assert sum((await rotate_secrets(store, box)).rotated.values()) == 0

        only_new = SecretBox(NEW)
        imap = await store.get_account("acc_imap")
        ms = await store.get_account("acc_ms")
        smtp = await store.get_smtp_settings()
        assert imap and imap.mailbox and imap.mailbox.password_enc
        assert ms and ms.oauth and ms.oauth.client_secret_enc and ms.oauth.refresh_token_enc
        assert smtp and smtp.password_enc
        assert only_new.decrypt(imap.mailbox.password_enc) == "pw"
        assert only_new.decrypt(ms.oauth.client_secret_enc) == "client-secret"
        assert only_new.decrypt(ms.oauth.refresh_token_enc) == "refresh"
        assert only_new.decrypt(smtp.password_enc) == "smtp-pw"
    finally:
        await store.close()


async def test_rotate_secrets_cli_reports_counts_and_undecryptable_secrets(
    sqlite_url: str,
) -> None:
    store = await open_store(sqlite_url)
    try:
        for account_id, key in (("acc_old", OLD), ("acc_lost", "l" * 40)):
            await store.put_account(
                EmailAccount(
                    id=account_id,
                    name=account_id,
                    address=f"{account_id}@example.test",
                    project="P",
                    mailbox=MailboxSettings(
                        host="h", port=993, username="u", password_enc=SecretBox(key).encrypt("x")
                    ),
                )
            )
    finally:
        await store.close()
    env = dict(
        os.environ,
        POSTROOM_STORE_URL=sqlite_url,
        POSTROOM_SECRET_KEY=NEW,
        POSTROOM_SECRET_KEYS_OLD=f" {OLD} ,",
    )
    done = await asyncio.to_thread(
        subprocess.run,
        [POSTROOM, "rotate-secrets"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "mailbox passwords: 1 re-encrypted, 0 already current" in done.stdout
    assert "FAILED account acc_lost mailbox passwords" in done.stderr
    assert "POSTROOM_SECRET_KEYS_OLD" in done.stderr


def test_secretbox_decrypts_with_old_keys_and_encrypts_with_the_current() -> None:
    token = SecretBox(OLD).encrypt("hunter2")
    box = SecretBox(NEW, [OLD])
    assert box.decrypt(token) == "hunter2" and not box.is_current(token)
    fresh = box.rotate(token)
    assert box.is_current(fresh) and SecretBox(NEW).decrypt(fresh) == "hunter2"
    assert box.rotate(fresh) == fresh
