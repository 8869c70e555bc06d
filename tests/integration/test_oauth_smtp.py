"""SMTP AUTH XOAUTH2 with a TokenSource token: aiosmtplib against an aiosmtpd server that
checks each token at the test IdP (tests/smtp_oauth_server.py); the SMTP server's own OAuth
sign-in stores its refresh token on the SMTP settings (owner "smtp")."""

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from postroom_replier.outbound import RelaySettings
from postroom_replier.smtp_check import send_test_mail
from postroom_shared.models import OAuthSettings, Security, SmtpSettings
from postroom_shared.oauth import (
    SMTP_OWNER,
    ReauthorizationRequired,
    TokenSource,
)
from postroom_shared.secretbox import SecretBox
from postroom_shared.store import Store, open_store
from tests.idp import IdentityProvider
from tests.oauth_helpers import REDIRECT, SECRET, endpoints_for, oauth_for, sign_in
from tests.smtp_oauth_server import OAuthSmtpServer, parse_xoauth2
from tests.stack_env import session_stack_env

BOX = SecretBox(SECRET)
USER = "alice@example.test"


@pytest.fixture
def smtp_server(idp: IdentityProvider, tmp_path: Path) -> Iterator[OAuthSmtpServer]:
    port = session_stack_env(tmp_path).base + 380
    with OAuthSmtpServer(
        port=port, tokeninfo_url=f"{idp.http_url}/tokeninfo?access_token="
    ) as server:
        yield server


async def _smtp_signed_in(idp: IdentityProvider, store: Store, port: int) -> OAuthSettings:
    client = idp.register_client(secret="s", redirect_uris=(REDIRECT,))
    oauth = oauth_for(client)
    await store.put_smtp_settings(
        SmtpSettings(host="127.0.0.1", port=port, auth="xoauth2", username=USER, oauth=oauth)
    )
    owner = await sign_in(idp, store, BOX, "microsoft", SMTP_OWNER, oauth, login_hint=USER)
    assert owner == SMTP_OWNER
    smtp = await store.get_smtp_settings()
    assert smtp is not None and smtp.oauth is not None and smtp.oauth.refresh_token_enc
    return smtp.oauth


def _mail(n: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = USER
    msg["To"] = "customer@outside.test"
    msg["Subject"] = f"oauth mail {n}"
    msg.set_content("sent with XOAUTH2")
    return msg


async def test_send_with_auth_xoauth2_and_token_generator(
    idp: IdentityProvider, store: Store, smtp_server: OAuthSmtpServer
) -> None:
    oauth = await _smtp_signed_in(idp, store, smtp_server.port)
    tokens = TokenSource(store, BOX, endpoints_for(idp))
    before = oauth.refresh_token_enc

    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_server.port) as smtp:
        response = await smtp.auth_xoauth2(
            USER, await tokens.access_token(SMTP_OWNER, "microsoft", oauth)
        )
        assert response.code == 235
        await smtp.send_message(_mail(1))

    async def token() -> str:
        return await tokens.access_token(SMTP_OWNER, "microsoft", oauth)

    await aiosmtplib.send(
        _mail(2),
        hostname="127.0.0.1",
        port=smtp_server.port,
        username=USER,
        oauth_token_generator=token,
    )
    assert [(m.user, m.rcpt_tos) for m in smtp_server.messages] == [
        (USER, ("customer@outside.test",)),
        (USER, ("customer@outside.test",)),
    ]
    stored = await store.get_smtp_settings()
    assert stored is not None and stored.oauth is not None
    assert stored.oauth.refresh_token_enc != before  # rotated and stored on the SMTP settings
    assert stored.host == "127.0.0.1" and stored.username == USER  # nothing else touched
    tokens.close()


async def test_bad_or_revoked_tokens_are_refused(
    idp: IdentityProvider, sqlite_url: str, smtp_server: OAuthSmtpServer
) -> None:
    store = await open_store(sqlite_url)
    oauth = await _smtp_signed_in(idp, store, smtp_server.port)
    tokens = TokenSource(store, BOX, endpoints_for(idp))
    token = await tokens.access_token(SMTP_OWNER, "microsoft", oauth)
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_server.port) as smtp:
        with pytest.raises(aiosmtplib.SMTPAuthenticationError) as caught:
            await smtp.auth_xoauth2("bob@example.test", token)  # someone else's mailbox
        assert caught.value.code == 535
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
            await smtp.sendmail(USER, ["x@outside.test"], b"Subject: x\r\n\r\nx\r\n")
        assert refused.value.code == 530

    idp.revoke_user(USER, oauth.client_id)
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp_server.port) as smtp:
        with pytest.raises(aiosmtplib.SMTPAuthenticationError):
            await smtp.auth_xoauth2(USER, token)
    tokens.forget(SMTP_OWNER)
    with pytest.raises(ReauthorizationRequired, match="SMTP server"):
        await tokens.access_token(SMTP_OWNER, "microsoft", oauth)
    assert smtp_server.messages == []
    tokens.close()
    await store.close()


def test_parse_xoauth2() -> None:
    assert parse_xoauth2(b"user=a@x.test\x01auth=Bearer T=\x01\x01") == ("a@x.test", "T=")
    with pytest.raises(ValueError, match="XOAUTH2"):
        parse_xoauth2(b"user=a@x.test\x01\x01")


async def test_replier_test_mail_through_a_real_token_source(
    idp: IdentityProvider, sqlite_url: str, smtp_server: OAuthSmtpServer
) -> None:
    """The replier's SMTP path with the real TokenSource: the stored SMTP settings' sign-in
    gives the token; revoked consent comes back as a clear error, not an exception."""
    store = await open_store(sqlite_url)
    oauth = await _smtp_signed_in(idp, store, smtp_server.port)
    smtp = await store.get_smtp_settings()
    assert smtp is not None
    await store.put_smtp_settings(smtp.model_copy(update={"security": Security.NONE}))
    tokens = TokenSource(store, BOX, endpoints_for(idp))
    relay = RelaySettings(host="127.0.0.1", port=smtp_server.port, security=Security.NONE)

    result = await send_test_mail(
        store, BOX, relay, tokens, to="bob@example.test", from_address=USER
    )
    assert result.ok, result.error
    assert [(m.user, m.rcpt_tos) for m in smtp_server.messages] == [(USER, ("bob@example.test",))]

    idp.revoke_user(USER, oauth.client_id)
    refused = await send_test_mail(
        store, BOX, relay, tokens, to="bob@example.test", from_address=USER
    )
    assert not refused.ok and refused.error is not None
    assert "Re-authorise" in refused.error, refused.error
    tokens.close()
    await store.close()
