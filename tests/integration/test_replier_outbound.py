"""The SMTP settings (docs/features.md F1) against real servers: the test Postfix (STARTTLS with a
self-signed certificate) and aiosmtpd servers with STARTTLS, implicit TLS, AUTH PLAIN/LOGIN and
XOAUTH2. Every mode either sends or fails with a clear, permanent error; none falls back to
something weaker than what the settings say."""

import asyncio
import base64
import imaplib
import itertools
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from faststream.rabbit import RabbitBroker
from pydantic import SecretStr

from postroom_api.oauth.flow import complete_authorization, start_authorization
from postroom_replier.outbound import RelaySettings
from postroom_replier.service import Replier
from postroom_replier.settings import ReplierSettings
from postroom_replier.smtp_check import SmtpCheckResult, send_test_mail
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.models import (
    OAuthSettings,
    Security,
    SmtpAuth,
    SmtpSettings,
)
from postroom_shared.oauth import TokenSource
from postroom_shared.runtime import make_broker
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store
from postroom_shared.topology import declare_topology
from tests import factories
from tests.idp import IdentityProvider
from tests.oauth_helpers import REDIRECT, Browser, endpoints_for, oauth_for
from tests.oauth_helpers import SECRET as OAUTH_SECRET
from tests.smtp_oauth_server import OAuthSmtpServer
from tests.stack_env import PORT_OFFSET, StackEnv

SECRET = OAUTH_SECRET  # the key the OAuth helpers encrypt client secrets with
BOX = SecretBox(SECRET)
PORT_BASE = 20000 + PORT_OFFSET  # this checkout's block (tests/stack_env.py); 400..449 here
_PORTS = itertools.cycle(range(PORT_BASE + 400, PORT_BASE + 450))


# --- servers ---------------------------------------------------------------------------------


@dataclass
class Sink:
    """Records what it accepted and who logged in."""

    delivered: list[bytes] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    tokens_seen: list[str] = field(default_factory=list)
    good_token: str = "good-token"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        content = envelope.content or b""
        self.delivered.append(content.encode() if isinstance(content, str) else content)
        return "250 2.0.0 Ok: queued as T3ST"

    async def auth_XOAUTH2(self, server: SMTPServer, args: list[str]) -> AuthResult:
        """XOAUTH2 as Gmail and Exchange Online answer it: a bad token gets a 334 JSON
        challenge, the client's empty line, then 535."""
        raw = base64.b64decode(args[1]).decode() if len(args) > 1 else ""
        fields = dict(part.split("=", 1) for part in raw.split("\x01") if "=" in part)
        token = fields.get("auth", "").removeprefix("Bearer ")
        self.tokens_seen.append(token)
        if token == self.good_token:
            self.logins.append(fields.get("user", ""))
            return AuthResult(success=True, auth_data=fields.get("user"))
        error = base64.b64encode(b'{"status":"401","schemes":"bearer"}').decode()
        await server.challenge_auth(error, encode_to_b64=False)
        return AuthResult(success=False, handled=False, message="535 5.7.8 Invalid token")


def _password_check(
    server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data == LoginPassword(
        b"sender@example.test", b"s3cret pass"
    )
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (as many small relays have)."""
    folder = tmp_path_factory.mktemp("tls")
    crt, key = folder / "cert.pem", folder / "key.pem"
    command = [
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout", str(key), "-out", str(crt),
    ]  # fmt: skip
    subprocess.run(
        command,
        check=True,
        capture_output=True,
    )
    return crt, key


def _server_tls(cert: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert[0]), str(cert[1]))
    return context


@pytest.fixture
def smtpd(request: pytest.FixtureRequest, cert: tuple[Path, Path]) -> Iterator[tuple[Sink, int]]:
    """An aiosmtpd server; `request.param` picks STARTTLS / implicit TLS / plain and AUTH."""
    mode: str = request.param
    sink = Sink()
    port = next(_PORTS)
    kwargs: dict[str, Any] = {"authenticator": _password_check, "auth_require_tls": False}
    if mode == "starttls":
        kwargs.update(tls_context=_server_tls(cert), auth_require_tls=True)
    if mode == "tls":
        kwargs.update(ssl_context=_server_tls(cert))
    if mode == "noauth":
        kwargs = {}
    if mode == "xoauth2only":
        kwargs["auth_exclude_mechanism"] = ["PLAIN", "LOGIN"]
    controller = Controller(sink, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    return sqlite_store


UNUSED_RELAY = RelaySettings(host="127.0.0.1", port=PORT_BASE + 499, security=Security.NONE)


async def _test_mail(
    store: Store, settings: SmtpSettings | None, tokens: Any = None, to: str = "alice@example.test"
) -> SmtpCheckResult:
    if settings is not None:
        await store.put_smtp_settings(settings)
    return await send_test_mail(
        store, BOX, UNUSED_RELAY, tokens, to=to, from_address="support@example.test"
    )


def _custom(port: int, security: Security, auth: SmtpAuth = "none", **kw: Any) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, security=security, auth=auth, **kw)


# --- the test Postfix: STARTTLS with a self-signed certificate -------------------------------


def _inbox_ids(stack: StackEnv, user: str) -> list[str]:
    with imaplib.IMAP4("127.0.0.1", stack.imap_port) as imap:
        imap.login(user, user)
        imap.select("INBOX", readonly=True)
        _, hits = imap.search(None, "ALL")
        ids = []
        for num in hits[0].split():
            _, data = imap.fetch(num.decode(), "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            raw = data[0][1] if isinstance(data[0], tuple) else b""
            ids.append(raw.decode().strip())
        return ids


@pytest.mark.stack
async def test_postfix_starttls_self_signed_verify_on_fails_clearly(
    stack: StackEnv, store: Store
) -> None:
    result = await _test_mail(store, _custom(stack.smtp_port, Security.STARTTLS))
    assert not result.ok
    assert result.error is not None and "certificate is not trusted" in result.error
    assert "verify_tls" in result.error and result.server == f"127.0.0.1:{stack.smtp_port}"


@pytest.mark.stack
async def test_postfix_starttls_verify_off_sends_encrypted(stack: StackEnv, store: Store) -> None:
    before = len(_inbox_ids(stack, "alice"))
    result = await _test_mail(store, _custom(stack.smtp_port, Security.STARTTLS, verify_tls=False))
    assert result.ok, result.error
    assert "2.0.0 Ok: queued" in result.smtp_response
    for _ in range(100):
        if len(_inbox_ids(stack, "alice")) > before:
            break
        await asyncio.sleep(0.1)
    assert len(_inbox_ids(stack, "alice")) == before + 1


@pytest.mark.stack
async def test_security_none_never_upgrades_even_when_offered(
    stack: StackEnv, store: Store
) -> None:
    """'none' means none: Postfix offers STARTTLS with a certificate we would not trust, and the
    mail still goes (the library's opportunistic upgrade would have failed on it)."""
    result = await _test_mail(store, _custom(stack.smtp_port, Security.NONE))
    assert result.ok, result.error


# --- aiosmtpd: TLS modes ---------------------------------------------------------------------


@pytest.mark.parametrize("smtpd", ["noauth"], indirect=True)
async def test_starttls_required_but_not_offered_is_a_clear_permanent_error(
    smtpd: tuple[Sink, int], store: Store
) -> None:
    sink, port = smtpd
    result = await _test_mail(store, _custom(port, Security.STARTTLS, verify_tls=False))
    assert not result.ok and result.error is not None
    assert "does not offer STARTTLS" in result.error and "plain text" in result.error
    assert sink.delivered == []  # nothing went out unencrypted


@pytest.mark.parametrize("smtpd", ["tls"], indirect=True)
async def test_implicit_tls_verifies_the_certificate(
    smtpd: tuple[Sink, int], store: Store, cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    sink, port = smtpd
    untrusted = await _test_mail(store, _custom(port, Security.TLS))
    assert not untrusted.ok and "certificate is not trusted" in (untrusted.error or "")
    unverified = await _test_mail(store, _custom(port, Security.TLS, verify_tls=False))
    assert unverified.ok, unverified.error
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))  # now the system trusts this server
    trusted = await _test_mail(store, _custom(port, Security.TLS))
    assert trusted.ok, trusted.error
    assert len(sink.delivered) == 2


@pytest.mark.parametrize("smtpd", ["plain"], indirect=True)
async def test_implicit_tls_against_a_plain_port_fails_clearly(
    smtpd: tuple[Sink, int], store: Store
) -> None:
    _, port = smtpd
    result = await _test_mail(store, _custom(port, Security.TLS, verify_tls=False))
    assert not result.ok and result.error is not None
    assert "TLS with 127.0.0.1" in result.error and "security setting (tls)" in result.error


# --- aiosmtpd: AUTH --------------------------------------------------------------------------


@pytest.mark.parametrize("smtpd", ["starttls"], indirect=True)
async def test_password_auth_after_starttls(smtpd: tuple[Sink, int], store: Store) -> None:
    """The server offers AUTH only after STARTTLS: the second EHLO must see it."""
    sink, port = smtpd
    good = _custom(
        port,
        Security.STARTTLS,
        "password",
        verify_tls=False,
        username="sender@example.test",
        password_enc=BOX.encrypt("s3cret pass"),
    )
    result = await _test_mail(store, good)
    assert result.ok, result.error
    bad = good.model_copy(update={"password_enc": BOX.encrypt("wrong")})
    refused = await _test_mail(store, bad)
    assert not refused.ok and "535" in (refused.error or "")
    assert len(sink.delivered) == 1


@pytest.mark.parametrize("smtpd", ["plain"], indirect=True)
async def test_password_auth_plain_and_auth_none(smtpd: tuple[Sink, int], store: Store) -> None:
    sink, port = smtpd
    creds = {"username": "sender@example.test", "password_enc": BOX.encrypt("s3cret pass")}
    assert (await _test_mail(store, _custom(port, Security.NONE, "password", **creds))).ok
    assert (await _test_mail(store, _custom(port, Security.NONE, "none", **creds))).ok
    assert len(sink.delivered) == 2


@pytest.mark.parametrize("smtpd", ["noauth"], indirect=True)
async def test_password_auth_against_a_server_without_auth_is_clear(
    smtpd: tuple[Sink, int], store: Store
) -> None:
    sink, port = smtpd
    settings = _custom(
        port, Security.NONE, "password", username="u@example.test", password_enc=BOX.encrypt("p")
    )
    result = await _test_mail(store, settings)
    assert not result.ok and "offers no AUTH" in (result.error or "")
    assert sink.delivered == []


@pytest.mark.parametrize("smtpd", ["xoauth2only"], indirect=True)
async def test_password_auth_when_only_xoauth2_is_offered_is_clear(
    smtpd: tuple[Sink, int], store: Store
) -> None:
    sink, port = smtpd
    settings = _custom(
        port, Security.NONE, "password", username="u@example.test", password_enc=BOX.encrypt("p")
    )
    result = await _test_mail(store, settings)
    assert not result.ok and "password login impossible" in (result.error or "")
    assert "offers xoauth2" in (result.error or "") and sink.delivered == []


# --- aiosmtpd: XOAUTH2 -----------------------------------------------------------------------


@dataclass
class Tokens:
    """Stands in for postroom_shared.oauth.TokenSource (the replier's AccessTokens port): hands
    out a cached token until told to forget it, then the next one, as a refresh would."""

    issued: list[str]
    asked: list[tuple[str, str]] = field(default_factory=list)
    forgotten: list[str] = field(default_factory=list)

    async def access_token(self, owner: str, provider: Any, oauth: OAuthSettings) -> str:
        self.asked.append((owner, provider))
        return self.issued[0]

    def forget(self, owner: str) -> None:
        self.forgotten.append(owner)
        self.issued.pop(0)


def _xoauth2(port: int, host: str = "127.0.0.1") -> SmtpSettings:
    return SmtpSettings(
        host=host,
        port=port,
        security=Security.NONE,
        auth="xoauth2",
        username="sender@example.test",
        oauth=OAuthSettings(client_id="client-1", tenant="contoso.example"),
    )


@pytest.mark.parametrize("smtpd", ["plain"], indirect=True)
async def test_xoauth2_uses_the_token_and_refreshes_a_refused_one(
    smtpd: tuple[Sink, int], store: Store
) -> None:
    sink, port = smtpd
    tokens = Tokens(issued=["good-token"])
    assert (await _test_mail(store, _xoauth2(port), tokens)).ok
    assert sink.logins == ["sender@example.test"]
    assert tokens.asked == [("smtp", "microsoft")]
    stale = Tokens(issued=["revoked-token", "good-token"])  # the cached token was revoked
    assert (await _test_mail(store, _xoauth2(port), stale)).ok
    assert stale.forgotten == ["smtp"] and sink.tokens_seen[-2:] == ["revoked-token", "good-token"]
    hopeless = Tokens(issued=["bad-1", "bad-2"])
    result = await _test_mail(store, _xoauth2(port), hopeless)
    assert not result.ok and "535 5.7.8 Invalid token" in (result.error or "")
    assert len(sink.delivered) == 2


@pytest.mark.parametrize("smtpd", ["noauth"], indirect=True)
async def test_xoauth2_without_a_token_source_or_oauth_settings_is_clear(
    smtpd: tuple[Sink, int], store: Store
) -> None:
    _, port = smtpd
    no_source = await _test_mail(store, _xoauth2(port), None)
    assert not no_source.ok and "no OAuth token source" in (no_source.error or "")
    no_xoauth2 = await _test_mail(store, _xoauth2(port), Tokens(issued=["good-token"]))
    assert not no_xoauth2.ok and "does not offer AUTH XOAUTH2" in (no_xoauth2.error or "")
    bare = _xoauth2(port).model_copy(update={"oauth": None})
    no_oauth = await _test_mail(store, bare, Tokens(issued=["good-token"]))
    assert not no_oauth.ok and "needs oauth settings" in (no_oauth.error or "")


# --- the replier: settings changes apply without a restart -----------------------------------


async def _replier(
    stack: StackEnv,
    store: Store,
    tokens: TokenSource | None = None,
    relay: RelaySettings = UNUSED_RELAY,
) -> tuple[Replier, RabbitBroker]:
    """A replier as the service builds it, with a connected broker (stop it after)."""
    settings = ReplierSettings(
        store_url="sqlite:///unused",
        broker_url=stack.amqp_url,
        secret_key=SecretStr(SECRET),
        smtp_host=relay.host,
        smtp_port=relay.port,
        smtp_security=relay.security,
        smtp_verify_tls=relay.verify_tls,
        smtp_retry_deadline_s=0,
        instance="test",
    )
    broker = make_broker(settings)
    await broker.connect()
    await declare_topology(broker)
    await store.put_account(factories.account())
    replier = Replier(
        store=store,
        broker=broker,
        signer=MessageIdSigner(SECRET, "x"),
        secrets=BOX,
        settings=settings,
        tokens=tokens,
    )
    return replier, broker


async def _reply(replier: Replier, store: Store, n: int) -> tuple[str, str]:
    """One new item's auto-reply to c<n>@example.org: its ledger state and Message-ID."""
    item = await factories.stored_incident(store, n)
    event = factories.item_created(item, n, f"c{n}@example.org")
    await replier.handle(event)
    ledger = await store.get_ledger(
        item.id, f"auto_reply:{event.message.mail_key}", f"c{n}@example.org"
    )
    assert ledger is not None
    return ledger.state, ledger.message_id


@pytest.mark.stack
@pytest.mark.parametrize("smtpd", ["starttls"], indirect=True)
async def test_replier_follows_smtp_settings_changes_without_restart(
    stack: StackEnv, store: Store, smtpd: tuple[Sink, int]
) -> None:
    sink, port = smtpd
    relay = RelaySettings(host="127.0.0.1", port=port, security=Security.STARTTLS, verify_tls=False)
    replier, broker = await _replier(stack, store, relay=relay)
    try:
        state, _ = await _reply(replier, store, 1)  # the built-in relay (the aiosmtpd server)
        assert state == "sent" and len(sink.delivered) == 1
        await store.put_smtp_settings(_custom(stack.smtp_port, Security.STARTTLS))
        state, _ = await _reply(replier, store, 2)  # Postfix, verification on: refused for good
        assert state == "failed" and len(sink.delivered) == 1
        await store.put_smtp_settings(_custom(stack.smtp_port, Security.NONE))
        state, _ = await _reply(replier, store, 3)  # Postfix, plain
        assert state == "sent" and len(sink.delivered) == 1
        assert await store.delete_smtp_settings()
        state, message_id = await _reply(replier, store, 4)  # back to the relay
        assert state == "sent" and len(sink.delivered) == 2
        assert message_id.encode() in sink.delivered[-1]
    finally:
        await replier.aclose()
        await broker.stop()


@pytest.mark.stack
async def test_auto_replies_over_xoauth2_with_tokens_from_the_identity_provider(
    stack: StackEnv, store: Store, idp: IdentityProvider
) -> None:
    """The whole XOAUTH2 path of real sends: the admin signs the SMTP server in (authorisation
    code + PKCE at the test IdP, refresh token stored on the SMTP settings), the replier's
    TokenSource gets access tokens, and the oauth helper's submission server
    (tests/smtp_oauth_server.py) checks each one at the IdP."""
    user = "alice@example.test"
    server = OAuthSmtpServer(
        port=PORT_BASE + 450, tokeninfo_url=f"{idp.http_url}/tokeninfo?access_token="
    )
    client = idp.register_client(secret="s", redirect_uris=(REDIRECT,))
    oauth = oauth_for(client)
    await store.put_smtp_settings(
        _xoauth2(server.port).model_copy(update={"oauth": oauth, "username": user})
    )
    endpoints = endpoints_for(idp)
    start = await asyncio.to_thread(
        start_authorization,
        "microsoft",
        "smtp",
        oauth,
        BOX,
        endpoints,
        redirect_uri=REDIRECT,
        login_hint=user,
    )
    browser = Browser(idp)  # keeps the cookie that binds the sign-in to it
    query = await asyncio.to_thread(browser.begin, start)
    owner = await complete_authorization(
        start.state, query, cookies=browser.cookies, store=store, secrets=BOX, endpoints=endpoints
    )
    assert owner == "smtp"
    tokens = TokenSource(store, BOX, endpoints)
    replier, broker = await _replier(stack, store, tokens)
    server.start()
    try:
        # an auto-reply goes out over XOAUTH2, loop-safe as ever
        state, message_id = await _reply(replier, store, 11)
        assert state == "sent" and server.logins == [user]
        [mail] = server.messages
        assert mail.user == user and mail.rcpt_tos == ("c11@example.org",)
        assert b"Auto-Submitted: auto-replied" in mail.content
        assert message_id.encode() in mail.content

        # the access token is revoked at the IdP (a password change): refused, refreshed, sent
        stored = await store.get_smtp_settings()
        assert stored is not None and stored.oauth is not None
        idp.revoke_access_token(await tokens.access_token("smtp", "microsoft", stored.oauth))
        await replier.delivery.pool.aclose()  # a new session logs in (a pooled one is in)
        state, _ = await _reply(replier, store, 12)
        assert state == "sent" and len(server.messages) == 2 and len(server.logins) == 2

        # consent withdrawn: no token, no refresh; the send fails for good (reply.failed.v1)
        # and the test mail tells the admin to sign in again
        idp.revoke_user(user, client.client_id)
        await replier.delivery.pool.aclose()
        state, _ = await _reply(replier, store, 13)
        assert state == "failed" and len(server.messages) == 2
        result = await _test_mail(store, None, tokens)
        assert not result.ok and "Re-authorise" in (result.error or ""), result.error
    finally:
        server.stop()
        tokens.close()
        await replier.aclose()
        await broker.stop()
