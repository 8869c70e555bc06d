"""The account's Connection form without I/O: what a posted form saves (blank secrets kept,
blank host/port the defaults, push without a mailbox), what each provider may choose, and the
sealed sign-in notice the OAuth callback hands the console (only ours, only for its account,
only for a while)."""

import time

from starlette.datastructures import FormData

from postroom_api.account_config import build_account
from postroom_api.console.account_form_fields import (
    after_read_options,
    connection_body,
    flat,
    form_fields,
)
from postroom_api.console.forms import nested
from postroom_api.oauth.console_return import (
    NOTICE_TTL_S,
    Notice,
    account_page,
    console_owner,
    open_notice,
    return_page,
    seal_notice,
)
from postroom_api.oauth.state import PendingSignIn, seal_state
from postroom_api.schemas import AccountIn
from postroom_shared.models import utcnow
from postroom_shared.secretbox import SecretBox

BOX = SecretBox("n" * 40)


def _posted(*pairs: tuple[str, str]) -> dict[str, object]:
    return connection_body(nested(FormData([("csrf_token", "t"), *pairs])))


def test_a_blank_password_is_not_sent_so_the_stored_one_is_kept() -> None:
    body = _posted(
        ("provider", "imap"),
        ("mailbox.host", "imap.example.test"),
        ("mailbox.port", ""),
        ("mailbox.username", "desk"),
        ("mailbox.password", ""),
        ("oauth.client_secret", " "),
    )
    assert body["mailbox"] == {"host": "imap.example.test", "port": None, "username": "desk"}
    assert body["oauth"] == {}
    typed = _posted(("mailbox.password", "s3cret"), ("mailbox.username", "desk"))
    assert typed["mailbox"] == {"password": "s3cret", "username": "desk"}


def test_a_blank_port_takes_the_provider_s_default_when_saved() -> None:
    body = _posted(
        ("name", "Desk"),
        ("address", "desk@example.test"),
        ("project", "Support"),
        ("provider", "pop3"),
        ("mailbox.host", "pop.example.test"),
        ("mailbox.port", ""),
        ("mailbox.security", "tls"),
        ("mailbox.verify_tls", "false"),
        ("mailbox.verify_tls", "true"),
        ("mailbox.username", "desk"),
        ("after_read", "delete"),
    )
    account = build_account(
        AccountIn.model_validate(body), account_id="acc_x", old=None, secrets=BOX, now=utcnow()
    )
    assert account.mailbox is not None
    assert (account.mailbox.port, account.mailbox.verify_tls) == (995, True)


def test_push_sends_no_mailbox_and_blank_tenant_is_the_default() -> None:
    body = _posted(("provider", "push"), ("mailbox.host", "x"), ("oauth.client_id", "c"))
    assert "mailbox" not in body and "oauth" not in body
    tenant = _posted(("provider", "microsoft"), ("oauth.tenant", ""), ("oauth.client_id", "c"))
    assert tenant["oauth"] == {"client_id": "c"}


def test_pop3_cannot_mark_mail_read_and_each_provider_shows_its_fields() -> None:
    assert [key for key, _ in after_read_options("pop3")] == ["delete", "leave_unread"]
    assert [key for key, _ in after_read_options("imap")] == [
        "delete",
        "mark_read",
        "leave_unread",
    ]
    assert "mailbox.password" in form_fields("imap", new=False)
    assert "mailbox.password" not in form_fields("google", new=False)
    assert "oauth.tenant" in form_fields("microsoft", new=True)
    assert form_fields("push", new=True) == ["name", "address", "project"]


def test_flat_reads_nested_values_by_dotted_name_and_posted_checkboxes_as_booleans() -> None:
    assert flat({"mailbox": {"host": "h", "port": 1}, "use_idle": "false", "name": "true"}) == {
        "mailbox.host": "h",
        "mailbox.port": 1,
        "use_idle": False,
        "name": "true",
    }


def test_a_sealed_notice_opens_for_its_account_only_and_only_for_a_while() -> None:
    sealed = seal_notice("acc_1", Notice(True, "Signed in"), BOX, now=1000.0)
    assert open_notice(sealed, "acc_1", BOX, now=1001.0) == Notice(True, "Signed in")
    assert open_notice(sealed, "acc_2", BOX, now=1001.0) is None  # another account's page
    assert open_notice(sealed, "acc_1", BOX, now=1000.0 + NOTICE_TTL_S + 1) is None
    assert open_notice(sealed, "acc_1", SecretBox("m" * 40), now=1001.0) is None
    assert open_notice("v1:forged", "acc_1", BOX) is None
    assert open_notice(BOX.encrypt('{"owner": "acc_1", "ok": true}'), "acc_1", BOX) is None


def test_the_way_back_is_the_account_s_console_page_escaped() -> None:
    assert account_page("acc_1", "v1:x") == "/ui/accounts/acc_1?signin=v1%3Ax"
    assert account_page("smtp", "v1:x") == "/ui/smtp?signin=v1%3Ax"  # the SMTP server's
    page = return_page("acc_1", 'v1:"><script>')
    body = bytes(page.body).decode()
    assert 'content="0;url=/ui/accounts/acc_1?signin=v1%3A%22%3E%3Cscript%3E"' in body
    assert "<script>" not in body and page.headers["Cache-Control"] == "no-store"


def _pending(owner: str = "acc_1", **more: object) -> PendingSignIn:
    return PendingSignIn.model_validate(
        {
            "owner": owner,
            "provider": "google",
            "code_verifier": "v" * 43,
            "redirect_uri": "https://p.example.test/oauth/callback",
            "scopes": [],
            "state_id": "s" * 16,
            "binding": "0" * 64,
            "expires_at": time.time() + 60,
            **more,
        }
    )


def test_only_a_state_sealed_by_the_console_brings_the_browser_back_to_its_page() -> None:
    assert _pending().console is False  # a state sealed before the flag: the JSON flow
    assert console_owner(seal_state(_pending(console=True), BOX), BOX) == "acc_1"
    assert console_owner(seal_state(_pending(), BOX), BOX) is None
    assert console_owner(seal_state(_pending("smtp", console=True), BOX), BOX) == "smtp"
    assert console_owner("v1:not-sealed-here", BOX) is None
