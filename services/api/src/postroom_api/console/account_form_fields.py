"""What the account's Connection form shows and sends, without I/O: the provider picker's
choices, the options each provider allows, the form's values from a stored account, and the
posted form turned into the body the JSON create and PATCH routes take.

Why a module of its own: the rules "a blank password keeps the stored one", "a blank port
takes the provider's default" and "push has no mailbox" decide what is saved, so they are pure
and unit-tested (tests/unit/test_console_account_form.py).
"""

from collections.abc import Mapping
from typing import Any

from postroom_shared.models import AfterRead, Security

__all__ = [
    "PICKER",
    "PROVIDER_NAMES",
    "after_read_options",
    "connection_body",
    "flat",
    "folder_field",
    "form_fields",
    "security_options",
]

# The picker, as the product we match has it: "Other" is IMAP or POP3, chosen in the form.
PICKER = [
    ("microsoft", "Microsoft 365", "Exchange Online mailbox; you sign in with Microsoft."),
    ("google", "Google", "Gmail or Google Workspace mailbox; you sign in with Google."),
    ("imap", "Other (IMAP / POP3)", "Any mail server, with a login and password."),
    ("push", "Push", "Your mail server hands mail to Postroom (postroom deliver, or HTTP)."),
]
PROVIDER_NAMES = {
    "microsoft": "Microsoft 365",
    "google": "Google",
    "imap": "IMAP",
    "pop3": "POP3",
    "push": "Push",
}
_AFTER_READ = {
    AfterRead.DELETE: "Delete it from the mailbox (recommended)",
    AfterRead.MARK_READ: "Mark it read",
    AfterRead.LEAVE_UNREAD: "Leave it unread",
}
# Secrets are write-only: a blank field means "keep the stored one", so it is never sent.
_SECRETS = ("mailbox.password", "oauth.client_secret")
# Blank means "the default" (null), not an empty string the schema would refuse.
_BLANK_IS_NONE = ("mailbox.port", "mailbox.host", "oauth.redirect_uri")
_BLANK_IS_DEFAULT = ("oauth.tenant",)
_CHECKBOXES = ("mailbox.verify_tls", "use_idle")


def after_read_options(provider: str) -> list[tuple[str, str]]:
    """What may happen to a fetched mail: POP3 cannot mark mail read (account_rules)."""
    allowed = [a for a in AfterRead if not (provider == "pop3" and a is AfterRead.MARK_READ)]
    return [(a.value, _AFTER_READ[a]) for a in allowed]


def security_options() -> list[tuple[str, str]]:
    return [
        (Security.TLS.value, "TLS (implicit, port 993 / 995)"),
        (Security.STARTTLS.value, "STARTTLS (port 143 / 110)"),
        (Security.NONE.value, "None (tests only)"),
    ]


def form_fields(provider: str, *, new: bool) -> list[str]:
    """The dotted names of the fields the Connection form shows for `provider`: a 422 about
    any other field is said at the top of the form (forms.field_errors)."""
    names = ["name", "address"] + (["project"] if new else [])
    if provider == "push":
        return names
    names += ["provider", "mailbox.username", "mailbox.folder", "after_read", "poll_interval_s"]
    if provider in ("imap", "pop3"):
        names += ["mailbox.host", "mailbox.port", "mailbox.security", "mailbox.verify_tls"]
        names += ["mailbox.password", "use_idle"]
    else:
        names += ["oauth.client_id", "oauth.client_secret", "oauth.redirect_uri", "use_idle"]
        names += ["oauth.tenant"] if provider == "microsoft" else []
    return names


def _drop(body: dict[str, Any], dotted: str) -> tuple[dict[str, Any], str] | None:
    """(the dict holding `dotted`'s leaf, the leaf) when `body` has it."""
    *parents, leaf = dotted.split(".")
    at: Any = body
    for part in parents:
        at = at.get(part) if isinstance(at, dict) else None
    return (at, leaf) if isinstance(at, dict) and leaf in at else None


def connection_body(posted: Mapping[str, Any]) -> dict[str, Any]:
    """The posted Connection form (`forms.nested`) as a create or PATCH body: blank secrets
    left out (kept), blank host/port/redirect URI null (the default), no mailbox for push."""
    body = {k: (dict(v) if isinstance(v, dict) else v) for k, v in posted.items()}
    for name in (*_SECRETS, *_BLANK_IS_NONE, *_BLANK_IS_DEFAULT):
        found = _drop(body, name)
        if found is None or str(found[0][found[1]]).strip():
            continue
        holder, leaf = found
        if name in _BLANK_IS_NONE:
            holder[leaf] = None
        else:
            del holder[leaf]
    if body.get("provider") == "push":
        body.pop("mailbox", None)
        body.pop("oauth", None)
    return body


def folder_field(
    names: list[str], chosen: str, problems: Any = None, listed: str = ""
) -> dict[str, Any]:
    """The context of the folder dropdown (templates/account_folders.html)."""
    return {
        "folder_options": [(name, name) for name in names],
        "folder_chosen": chosen,
        "folder_problems": problems,
        "folder_help": listed or "Refresh folders lists what the server has.",
    }


def flat(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested body (an account view, a posted form) by dotted name, as the fields read it."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat(value, f"{name}."))
        elif name in _CHECKBOXES and isinstance(value, str):  # as posted: "true" / "false"
            out[name] = value == "true"
        else:
            out[name] = value
    return out
