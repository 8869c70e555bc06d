"""What an account must have, by provider, before it can be stored or activated: the rules that
need neither I/O nor the stored account.

- a mailbox for imap, pop3, microsoft and google, none for push; OAuth settings for microsoft
  and google only, never a password there; POP3 reads INBOX and cannot mark mail read;
- an account can be activated only when the fetcher could log in (a stored password, a
  sign-in or, for app-only access, a client secret).
"""

from postroom_api.schemas.accounts import AccountIn
from postroom_api.schemas.common import Problem
from postroom_shared.models import AfterRead, EmailAccount, Security

__all__ = [
    "DEFAULT_HOSTS",
    "Invalid",
    "activation_problem",
    "default_port",
    "problems",
    "template_settings",
]

DEFAULT_HOSTS = {"microsoft": "outlook.office365.com", "google": "imap.gmail.com"}


def template_settings(account: EmailAccount) -> list[tuple[tuple[str, ...], str]]:
    """Every setting of `account` that names a notification template, with where it sits: what
    must exist when the account is saved, and what keeps a template from being deleted."""
    named = [
        (("auto_reply", "template_id"), account.auto_reply.template_id),
        (("notification_template_id",), account.notification_template_id),
        *((("notifications", event), chosen) for event, chosen in account.notifications),
    ]
    return [(loc, template_id) for loc, template_id in named if template_id]


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
