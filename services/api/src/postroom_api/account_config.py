"""From what an admin sends to the stored `EmailAccount` or OAuth settings, with the secrets.

Write-only secrets: a new one is encrypted; an omitted one is kept only while everything that
decides where it goes stays the same (`kept_secrets`), so a stored secret is never sent to a new
host, port, TLS setting, login or identity provider. The provider rules are `account_rules`.
"""

from datetime import datetime

from pydantic import ValidationError

from postroom_api.account_rules import (
    DEFAULT_HOSTS,
    Invalid,
    activation_problem,
    default_port,
    problems,
)
from postroom_api.kept_secrets import account_destination, moved, required_again
from postroom_api.schemas.accounts import AccountIn, MailboxIn
from postroom_api.schemas.oauth import OAuthIn
from postroom_shared.models import (
    DEFAULT_FIELD_MAPPING,
    AutoReplySettings,
    EmailAccount,
    ItemFromMail,
    MailboxSettings,
    NotificationSettings,
    OAuthSettings,
    ReplyActions,
)
from postroom_shared.secretbox import SecretBox

__all__ = ["build_account", "oauth_settings"]


def _server(body: AccountIn) -> MailboxSettings | None:
    """The mailbox settings of `body` with the provider's defaults, without the password."""
    box = body.mailbox
    if box is None:
        return None
    return MailboxSettings(
        host=box.host or DEFAULT_HOSTS[body.provider],
        port=box.port or default_port(body.provider, box.security),
        security=box.security,
        verify_tls=box.verify_tls,
        username=box.username,
        folder=box.folder,
    )


def _moved(body: AccountIn, server: MailboxSettings | None, old: EmailAccount | None) -> list[str]:
    """What changed of what decides where the account's secrets go (see kept_secrets)."""
    if old is None:
        return []
    username = server.username if server else None
    before = old.mailbox.username if old.mailbox else None
    return moved(
        account_destination(old.provider, old.mailbox, before, old.oauth),
        account_destination(body.provider, server, username, body.oauth),
    )


def _mailbox(
    server: MailboxSettings,
    box: MailboxIn,
    old: EmailAccount | None,
    secrets: SecretBox,
    changed: list[str],
) -> MailboxSettings:
    password_enc: str | None = None
    if box.password is not None:
        password_enc = secrets.encrypt(box.password.get_secret_value())
    elif old is not None and old.mailbox is not None and old.mailbox.password_enc:
        if changed:
            raise Invalid([(("mailbox", "password"), required_again("password", changed))])
        password_enc = old.mailbox.password_enc
    return server.model_copy(update={"password_enc": password_enc})


def oauth_settings(
    oauth: OAuthIn,
    before: OAuthSettings | None,
    secrets: SecretBox,
    *,
    loc: tuple[str, ...],
    changed: list[str],
) -> OAuthSettings:
    """Stored OAuth settings for `oauth`; `before` are the stored ones of the same owner, and
    `changed` what changed of where their secrets go (then none is kept)."""
    secret_enc: str | None = None
    if oauth.client_secret is not None:
        secret_enc = secrets.encrypt(oauth.client_secret.get_secret_value())
    elif before is not None and before.client_secret_enc:
        if changed:
            raise Invalid([((*loc, "client_secret"), required_again("client secret", changed))])
        secret_enc = before.client_secret_enc
    refresh_enc: str | None = None
    if oauth.refresh_token is not None:
        refresh_enc = secrets.encrypt(oauth.refresh_token.get_secret_value())
    elif (
        before is not None
        and not changed
        and (before.flow, before.scopes) == (oauth.flow, oauth.scopes)
    ):
        # Same server, client and consent: the sign-in stays valid. Otherwise the admin signs
        # in again.
        refresh_enc = before.refresh_token_enc
    return OAuthSettings(
        **oauth.client_fields(), client_secret_enc=secret_enc, refresh_token_enc=refresh_enc
    )


def _dropped_sign_in(old: EmailAccount | None, account: EmailAccount, changed: list[str]) -> str:
    """Why an active account lost its refresh token with this change, or "" if it did not."""
    kept = account.oauth is not None and account.oauth.refresh_token_enc
    if old is None or old.oauth is None or not old.oauth.refresh_token_enc or kept or not changed:
        return ""
    return (
        f"dropped: {', '.join(changed)} changed, and a sign-in is only kept while the server"
        " and the client it was made for stay the same; save the account inactive, then sign"
        f" in again (POST /v1/accounts/{account.id}/oauth/start)"
    )


def build_account(
    body: AccountIn,
    *,
    account_id: str,
    old: EmailAccount | None,
    secrets: SecretBox,
    now: datetime,
) -> EmailAccount:
    """The account to store for `body` (replacing `old`, whose secrets may be kept)."""
    found = problems(body)
    if found:
        raise Invalid(found)
    server = _server(body)
    changed = _moved(body, server, old)
    mailbox = None
    if server is not None and body.mailbox is not None:
        mailbox = _mailbox(server, body.mailbox, old, secrets, changed)
    oauth = None
    if body.oauth is not None:
        before = old.oauth if old is not None else None
        oauth = oauth_settings(body.oauth, before, secrets, loc=("oauth",), changed=changed)
    items = body.items.model_dump()
    items["field_mapping"] = items["field_mapping"] or dict(DEFAULT_FIELD_MAPPING)
    try:
        account = EmailAccount(
            id=account_id,
            name=body.name,
            address=body.address,
            provider=body.provider,
            active=body.active,
            mailbox=mailbox,
            oauth=oauth,
            after_read=body.after_read,
            poll_interval_s=body.poll_interval_s,
            use_idle=body.use_idle,
            max_mail_bytes=body.max_mail_bytes,
            tell_sender_when_too_large=body.tell_sender_when_too_large,
            item_type=body.item_type,
            project=body.project,
            creator=body.creator,
            auto_reply=AutoReplySettings.model_validate(body.auto_reply.model_dump()),
            on_reply=ReplyActions.model_validate(body.on_reply.model_dump()),
            items=ItemFromMail.model_validate(items),
            workflow_id=body.workflow_id,
            notification_template_id=body.notification_template_id,
            notifications=NotificationSettings.model_validate(body.notifications.model_dump()),
            created_at=old.created_at if old is not None else now,
            updated_at=now,
        )
    except ValidationError as exc:  # the stored model's own rules, should the two ever differ
        raise Invalid(
            [(tuple(e["loc"]), e["msg"]) for e in exc.errors(include_input=False)]
        ) from None
    if account.active:
        why = activation_problem(account)
        dropped = _dropped_sign_in(old, account, changed)
        if why and dropped:
            raise Invalid([(("oauth", "refresh_token"), dropped)])
        if why:
            raise Invalid([(("active",), f"cannot be active yet: {why}")])
    return account
