"""Property-based fuzzing of the whole HTTP API from its OpenAPI schema (schemathesis): no
input, however odd, may produce a server error, and every documented response must match its
schema. Runs the real `postroom-api` and `postroom-converter` under their own console scripts,
on a RabbitMQ vhost of their own on the session stack and a fresh SQLite store.

Before the run, the store gets what fuzzing alone rarely reaches: an active push account with a
`deliver` key, an item with an attachment (pushed, converted), a quarantined mail, a polled
account. Their ids are fed to schemathesis as dictionaries (half of the generated ids are real
ones) and the stateful phase follows OpenAPI links between operations (schemathesis_hooks.py):
accounts created, then read, changed, copied, pushed to, deleted; items listed then read with
their raw mail; quarantine entries shown, reprocessed, discarded; API keys created and revoked.
The push route is called with the deliver key and raw (half mail-shaped) bodies, so the
converter behind it is fuzzed too; it must still be running at the end.
"""

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.e2e.supervisor import rabbitmqctl
from tests.idp import IdentityProvider
from tests.integration.api_app import ADMIN_KEY, SECRET
from tests.integration.deep_mail import too_deep_mail
from tests.oauth_helpers import REDIRECT, TENANT
from tests.stack_env import REPO, StackEnv

pytestmark = pytest.mark.stack

MAX_EXAMPLES = 100  # per operation and phase; about two minutes for the whole API here
STATEFUL_EXAMPLES = 300  # scenarios of linked calls (cheap: a few requests each)
# status_code_conformance is left out: unparsable JSON bodies get FastAPI's undocumented 400
CHECKS = ",".join(
    (
        "not_a_server_error",
        "response_schema_conformance",
        "content_type_conformance",
        "response_headers_conformance",
    )
)


@dataclass
class Services:
    url: str
    procs: dict[str, subprocess.Popen[bytes]]
    idp: IdentityProvider


@pytest.fixture
def services(stack: StackEnv, idp: IdentityProvider, tmp_path: Path) -> Iterator[Services]:
    vhost = f"schemathesis-{uuid.uuid4().hex[:8]}"
    rabbitmqctl(stack, "add_vhost", vhost)
    rabbitmqctl(stack, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    port = stack.base + 380
    env = dict(
        os.environ,
        POSTROOM_STORE_URL=f"sqlite:///{tmp_path / 'postroom.db'}",
        POSTROOM_BROKER_URL=f"{stack.amqp_url}{vhost}",
        POSTROOM_SECRET_KEY=SECRET,
        POSTROOM_ADMIN_API_KEY=ADMIN_KEY,
        POSTROOM_API_PORT=str(port),
        POSTROOM_METRICS_PORT="0",
        POSTROOM_LOG_LEVEL="WARNING",
        # sign-ins go to the local identity provider, never to the internet
        POSTROOM_OAUTH_MICROSOFT_AUTHORITY=idp.https_url,
        POSTROOM_OAUTH_GOOGLE_AUTH_URL=idp.google_auth_url,
        POSTROOM_OAUTH_GOOGLE_TOKEN_URL=idp.google_token_url,
        POSTROOM_OAUTH_CA_BUNDLE=str(idp.ca_file),
        POSTROOM_OAUTH_TIMEOUT_S="10",
    )
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for name in ("api", "converter"):
        with (tmp_path / f"{name}.log").open("wb") as log:
            procs[name] = subprocess.Popen(
                [str(REPO / f".venv/bin/postroom-{name}")],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                ready = httpx.get(f"{url}/readyz", params={"services": "false"}, timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if procs["api"].poll() is not None or time.monotonic() > deadline:
                pytest.fail("postroom-api did not start:\n" + (tmp_path / "api.log").read_text())
            time.sleep(0.2)
        yield Services(url, procs, idp)
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            proc.wait(timeout=60)
        rabbitmqctl(stack, "delete_vhost", vhost)
        # Server errors are logged with their traceback: show them with a failure.
        for name in procs:
            print(f"--- {name}.log\n" + (tmp_path / f"{name}.log").read_text()[-10000:])


@dataclass
class Seeded:
    push_account: str
    polled_account: str
    deliver_key: str
    items: list[str]
    messages: list[str]
    quarantine: list[str]
    mail_keys: list[str]
    states: list[str]  # sealed OAuth states of real sign-ins, for the callback


def _mail_with_attachment() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Casey Customer <casey@example.org>"
    msg["To"] = "webform@example.test"
    msg["Subject"] = "Printer on fire"
    msg["Message-ID"] = "<seed-1@example.org>"
    msg.set_content("The printer on floor 2 is on fire. Photo attached.")
    msg.add_attachment(b"\x89PNG\r\n\x1a\nnot really", maintype="image", subtype="png")
    return msg.as_bytes()


def _wait(probe: Any, what: str, timeout_s: float = 60) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (found := probe()):
        if time.monotonic() > deadline:
            pytest.fail(f"seeding: {what} not there after {timeout_s} s")
        time.sleep(0.2)
    return found


def seed(url: str, idp: IdentityProvider) -> Seeded:
    """What fuzzing alone rarely creates, made through the API itself."""
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with httpx.Client(base_url=url, headers=admin, timeout=30) as api:

        def created(path: str, body: dict[str, Any]) -> dict[str, Any]:
            answer = api.post(path, json=body)
            assert answer.status_code == 201, answer.text
            result: dict[str, Any] = answer.json()
            return result

        push = created(
            "/v1/accounts",
            {"name": "Web form", "address": "webform@example.test", "provider": "push",
             "project": "Support", "active": True},
        )["id"]  # fmt: skip
        polled = created(
            "/v1/accounts",
            {"name": "Sales", "address": "sales@example.test", "provider": "imap",
             "mailbox": {"host": "127.0.0.1", "port": 9, "security": "none",
                         "username": "sales@example.test", "password": "sales"},
             "project": "Sales"},
        )["id"]  # fmt: skip
        deliver = created(
            "/v1/api-keys", {"name": "mta", "scopes": ["deliver"], "account_ids": [push]}
        )["key"]
        mail_keys = []
        deep = [too_deep_mail(f"deep {n}") for n in range(5)]
        for raw in (_mail_with_attachment(), *deep):
            pushed = api.post(
                f"/v1/accounts/{push}/mail",
                content=raw,
                headers={"Authorization": f"Bearer {deliver}", "Content-Type": "message/rfc822"},
            )
            assert pushed.status_code == 202, pushed.text
            mail_keys.append(pushed.json()["mail_key"])
        items = _wait(lambda: api.get("/v1/items").json()["items"], "the pushed item")
        entries = _wait(
            lambda: len(found := api.get("/v1/quarantine").json()["entries"]) == 5 and found,
            "quarantined mail",
        )
        thread = api.get(f"/v1/items/{items[0]['id']}").json()["thread"]
        assert thread[0]["attachments"], thread
        client = idp.register_client(secret="cs", redirect_uris=(REDIRECT,))
        microsoft = created(
            "/v1/accounts",
            {"name": "Microsoft desk", "address": "alice@example.test", "provider": "microsoft",
             "project": "Desk",
             "mailbox": {"host": "127.0.0.1", "port": 143, "security": "none",
                         "username": "alice@example.test"},
             "oauth": {"client_id": client.client_id, "client_secret": client.secret,
                       "tenant": TENANT, "redirect_uri": REDIRECT}},
        )["id"]  # fmt: skip
        states = []
        for _ in range(5):
            start = api.post(f"/v1/accounts/{microsoft}/oauth/start", json={})
            assert start.status_code == 200, start.text
            # the sign-in link binds a browser, then redirects to the provider with the state
            # the link is on the public host (behind a proxy that strips /api): ask the API
            link = urlsplit(start.json()["authorization_url"])
            begin = api.get(f"/oauth/begin?{link.query}", follow_redirects=False)
            assert begin.status_code == 302, begin.text
            query = dict(parse_qsl(urlsplit(begin.headers["location"]).query))
            states.append(query["state"])
    return Seeded(
        push_account=push,
        polled_account=polled,
        deliver_key=deliver,
        items=[item["id"] for item in items],
        messages=[message["id"] for message in thread],
        quarantine=[entry["id"] for entry in entries],
        mail_keys=mail_keys,
        states=states,
    )


def config(seeded: Seeded) -> str:
    """schemathesis.toml: the seeded ids as dictionaries, the deliver key for the push route."""

    def values(items: list[str]) -> str:
        return json.dumps(items)

    return f"""
headers = {{ Authorization = "Bearer {ADMIN_KEY}" }}
request-timeout = 20
max-time = 120

[generation]
max-examples = {MAX_EXAMPLES}

[phases.stateful]
max-steps = 10
[phases.stateful.generation]
max-examples = {STATEFUL_EXAMPLES}

[dictionaries.accounts]
values = {values([seeded.polled_account])}
[dictionaries.push_accounts]
values = {values([seeded.push_account])}
[dictionaries.items]
values = {values(seeded.items)}
[dictionaries.messages]
values = {values(seeded.messages)}
[dictionaries.quarantine]
values = {values(seeded.quarantine)}
[dictionaries.mail_keys]
values = {values(seeded.mail_keys)}
[dictionaries.states]
values = {values(seeded.states[1:])}

[parameters]
"path.account_id" = {{ dictionary = "accounts", probability = 0.5 }}
"path.item_id" = {{ dictionary = "items", probability = 0.5 }}
"path.message_id" = {{ dictionary = "messages", probability = 0.5 }}
"path.entry_id" = {{ dictionary = "quarantine", probability = 0.5 }}
"query.mail_key" = {{ dictionary = "mail_keys", probability = 0.5 }}

[[operations]]
include-name = "POST /v1/accounts/{{account_id}}/mail"
headers = {{ Authorization = "Bearer {seeded.deliver_key}" }}
parameters = {{ "path.account_id" = {{ dictionary = "push_accounts", probability = 0.8 }} }}

[[operations]]
include-name = "GET /oauth/callback"
parameters = {{ "query.state" = {{ dictionary = "states", probability = 0.5 }} }}

# 503 is what readiness answers while the fetcher and replier are not running (they are not
# here); its semantics are tested in test_api.py.
[[operations]]
include-path = "/readyz"
enabled = false
"""


def callback_answers(url: str, state: str) -> dict[str, int]:
    """What the browser's return to /oauth/callback gets for made-up or refused sign-ins."""
    cases: dict[str, dict[str, str]] = {
        "real state, made-up code": {"state": state, "code": "M.C507_made-up"},
        "real state, refused consent": {"state": state, "error": "access_denied"},
        "made-up state and code": {"state": "c3RhdGU", "code": "x"},
        "fernet-like state": {"state": "gAAAAA" + "A" * 120, "code": "x"},
        "no state": {"code": "x"},
    }
    with httpx.Client(base_url=url, timeout=30) as browser:  # no API key, as a browser
        return {
            what: browser.get("/oauth/callback", params=query).status_code
            for what, query in cases.items()
        }


def test_no_input_makes_the_api_fail(services: Services, tmp_path: Path) -> None:
    seeded = seed(services.url, services.idp)
    answers = callback_answers(services.url, seeded.states[0])
    print(f"/oauth/callback: {answers}")
    assert all(400 <= status < 500 for status in answers.values()), answers
    (tmp_path / "schemathesis.toml").write_text(config(seeded))
    started = time.monotonic()
    run = subprocess.run(
        [
            str(REPO / ".venv/bin/schemathesis"),
            "--config-file",
            str(tmp_path / "schemathesis.toml"),
            "--no-color",
            "run",
            f"{services.url}/openapi.json",
            "--checks",
            CHECKS,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=tmp_path,  # schemathesis keeps a cache in its working directory
        env=dict(
            os.environ,
            PYTHONPATH=str(REPO),
            SCHEMATHESIS_HOOKS="tests.integration.schemathesis_hooks",
        ),
    )
    print(f"schemathesis: {time.monotonic() - started:.0f} s\n{run.stdout}")
    assert run.returncode == 0, run.stdout[-15000:] + run.stderr[-3000:]
    assert services.procs["converter"].poll() is None, "the converter died on pushed mail"
