"""From what an admin sends to the stored `EmailAccount`, and back: the rules that need no I/O.

- provider needs (SPEC F2): a mailbox for imap, pop3, microsoft and google; OAuth settings for
  microsoft and google only; POP3 reads INBOX and cannot mark mail read;
- write-only secrets: a new one is encrypted; an omitted one is kept only while everything
  that decides where it goes stays the same (`kept_secrets`), so a stored secret is never sent
  to a new host, port, TLS setting, login or identity provider;
- copies are inactive and carry no secrets.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from postroom_api.kept_secrets import account_destination, moved, required_again
from postroom_api.schemas.accounts import (
    AccountIn,
    AutoReplyIn,
    ItemsFromMailIn,
    MailboxIn,
    NotificationsIn,
    OAuthIn,
    ReplyActionsIn,
)
from postroom_api.schemas.common import Problem
from postroom_shared.models import (
    DEFAULT_FIELD_MAPPING,
    AfterRead,
    AutoReplySettings,
    EmailAccount,
    ItemFromMail,
    MailboxSettings,
    NotificationSettings,
    OAuthSettings,
    ReplyActions,
    Security,
)
from postroom_shared.secretbox import SecretBox

__all__ = [
    "DEFAULT_HOSTS",
    "Invalid",
    "activation_problem",
    "build_account",
    "copy_name",
    "copy_of",
    "default_port",
    "input_of",
    "merge",
    "oauth_settings",
    "problems",
]

DEFAULT_HOSTS = {"microsoft": "outlook.office365.com", "google": "imap.gmail.com"}
_OAUTH_PROVIDERS = ("microsoft", "google")


class Invalid(Exception):
    """The input cannot become an account; `problems` name each field and why."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in problems))
        self.problems = problems


def default_port(provider: str, security: Security) -> int:
    if provider == "pop3":
        return 995 if security is Security.TLS else 110
    return 993 if security is Security.TLS else 143


def problems(body: AccountIn) -> list[Problem]:
    """What is wrong with `body` as a whole (field-level checks are the schema's)."""
    found: list[Problem] = []
    provider = body.provider
    if provider == "push":
        if body.mailbox is not None:
            found.append(
                (
                    ("mailbox",),
                    "push accounts receive mail from an MTA or over HTTP;"
                    " they have no mailbox settings",
                )
            )
    elif body.mailbox is None:
        found.append((("mailbox",), f"provider {provider!r} needs mailbox settings"))
    if provider in _OAUTH_PROVIDERS:
        if body.oauth is None:
            found.append((("oauth",), f"provider {provider!r} needs oauth settings (client_id)"))
        if body.mailbox is not None and body.mailbox.password is not None:
            found.append(
                (
                    ("mailbox", "password"),
                    f"{provider} accounts sign in with OAuth 2.0, not a password",
                )
            )
        if provider == "google" and body.oauth and body.oauth.flow == "client_credentials":
            found.append(
                (("oauth", "flow"), "Google has no app-only access to IMAP: use authorization_code")
            )
    elif body.oauth is not None:
        found.append((("oauth",), "only microsoft and google accounts use OAuth settings"))
    if provider in ("imap", "pop3") and body.mailbox is not None and body.mailbox.host is None:
        found.append((("mailbox", "host"), f"required for provider {provider!r}"))
    if provider == "pop3":
        if body.after_read is AfterRead.MARK_READ:
            found.append(
                (("after_read",), "POP3 cannot mark mail read: use delete or leave_unread")
            )
        if body.mailbox is not None and body.mailbox.folder != "INBOX":
            found.append((("mailbox", "folder"), "POP3 has no folders: use INBOX"))
    if body.on_reply.move_workflow_step and body.workflow_id is None:
        found.append(
            (
                ("on_reply", "move_workflow_step"),
                "needs workflow_id (the workflow whose steps say where a new email moves an item)",
            )
        )
    return found


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
        flow=oauth.flow,
        client_id=oauth.client_id,
        client_secret_enc=secret_enc,
        tenant=oauth.tenant,
        authority_url=oauth.authority_url,
        token_url=oauth.token_url,
        auth_url=oauth.auth_url,
        scopes=list(oauth.scopes),
        redirect_uri=oauth.redirect_uri,
        refresh_token_enc=refresh_enc,
        mechanism=oauth.mechanism,
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


def activation_problem(account: EmailAccount) -> str | None:
    """Why the fetcher could not read this account yet, or None when it can be activated."""
    if account.provider in ("imap", "pop3") and (
        account.mailbox is None or not account.mailbox.password_enc
    ):
        return "no mailbox password is stored: set mailbox.password first"
    if account.provider in _OAUTH_PROVIDERS and account.oauth is not None:
        if account.oauth.flow == "client_credentials":
            if not account.oauth.client_secret_enc:
                return "the client_credentials flow needs oauth.client_secret"
        elif not account.oauth.refresh_token_enc:
            return (
                f"not signed in to {account.provider}: POST /v1/accounts/{account.id}/oauth/start"
                " and complete the sign-in first"
            )
    return None


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


def input_of(account: EmailAccount) -> dict[str, Any]:
    """The stored account as an `AccountIn` body without secrets (the base a PATCH merges into;
    omitted secrets are then kept by `build_account`)."""
    data = account.model_dump(mode="json")
    shapes: dict[str, type[BaseModel]] = {
        "mailbox": MailboxIn,
        "oauth": OAuthIn,
        "auto_reply": AutoReplyIn,
        "on_reply": ReplyActionsIn,
        "items": ItemsFromMailIn,
        "notifications": NotificationsIn,
    }
    # Only what the input model knows: a field added to the stored model later must not turn
    # every PATCH into a 422 "extra field".
    body = {key: data[key] for key in AccountIn.model_fields if key in data}
    for key, shape in shapes.items():
        if isinstance(body.get(key), dict):
            body[key] = {k: v for k, v in body[key].items() if k in shape.model_fields}
    for secret in ("password", "client_secret", "refresh_token"):
        for part in ("mailbox", "oauth"):
            if isinstance(body.get(part), dict):
                body[part].pop(secret, None)
    return body


def merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """`patch` over `base`: objects merged key by key, anything else replaced."""
    merged = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def copy_name(name: str, taken: Iterable[str]) -> str:
    """'<name> (copy)', or '<name> (copy 2)', ... when that is taken too."""
    names = set(taken)
    for n in range(1, 1000):
        suffix = " (copy)" if n == 1 else f" (copy {n})"
        candidate = name[: 200 - len(suffix)] + suffix
        if candidate not in names:
            return candidate
    raise Invalid([(("name",), "give the copy a name: every derived name is taken")])


def copy_of(account: EmailAccount, *, account_id: str, name: str, now: datetime) -> EmailAccount:
    """A new inactive account with the same settings and none of the secrets."""
    copy = account.model_copy(deep=True)
    copy.id, copy.name, copy.active = account_id, name, False
    copy.created_at = copy.updated_at = now
    if copy.mailbox is not None:
        copy.mailbox.password_enc = None
    if copy.oauth is not None:
        copy.oauth.client_secret_enc = None
        copy.oauth.refresh_token_enc = None
    return copy
