"""Bringing a browser whose sign-in was started in the web console back to its page: the
account's page, or the SMTP page for the SMTP server's sign-in.

Why: the JSON flow ends on the callback's JSON, which is right for curl and wrong for an admin
who clicked "Sign in with Microsoft" in the console. Whether to go back is sealed in the OAuth
`state` (`PendingSignIn.console`), never read from a query parameter, and the way back is a
fixed path built from the sealed owner: no one can turn the callback into an open redirect.

The outcome travels to the page as a sealed, short-lived notice (`seal_notice`), so a link an
attacker crafts cannot make the console say "signed in". The callback answers a tiny page that
moves on with a meta refresh instead of a 303: the identity provider's redirect is a cross-site
navigation, and the console's SameSite=Strict session cookie is not sent on a redirect chain
that started cross-site; a navigation started by our own page is same-site, so it is.
"""

import html
import json
import time
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from fastapi.responses import HTMLResponse

from postroom_api.oauth.state import open_state
from postroom_shared.errors import ConfigError
from postroom_shared.oauth.errors import OAuthError
from postroom_shared.oauth.owners import SMTP_OWNER
from postroom_shared.secretbox import SecretBox

__all__ = [
    "NOTICE_TTL_S",
    "Notice",
    "account_page",
    "console_owner",
    "open_notice",
    "return_page",
    "seal_notice",
]

NOTICE_TTL_S = 10 * 60
_KIND = "postroom.console.signin.v1"


@dataclass(frozen=True)
class Notice:
    ok: bool
    text: str


def console_owner(state: str, box: SecretBox) -> str | None:
    """The owner (an account id, or SMTP_OWNER) whose console page the callback sends the
    browser back to, when the sealed `state` says its sign-in was started there; None for the
    JSON flow and for a state that does not open (the callback then refuses it in JSON)."""
    try:
        pending = open_state(state, box)
    except OAuthError:
        return None
    return pending.owner if pending.console else None


def seal_notice(owner: str, notice: Notice, box: SecretBox, *, now: float | None = None) -> str:
    at = time.time() if now is None else now
    sealed = {"kind": _KIND, "owner": owner, "ok": notice.ok, "text": notice.text}
    return box.encrypt(json.dumps({**sealed, "expires_at": at + NOTICE_TTL_S}))


def open_notice(
    sealed: str, owner: str, box: SecretBox, *, now: float | None = None
) -> Notice | None:
    """The notice `sealed` carries for `owner`'s page; None when it is not ours, is for another
    account, or is older than NOTICE_TTL_S (a reload of an old page says nothing)."""
    try:
        data = json.loads(box.decrypt(sealed))
    except (ConfigError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("kind") != _KIND or data.get("owner") != owner:
        return None
    expires = data.get("expires_at")
    if not isinstance(expires, int | float) or (time.time() if now is None else now) > expires:
        return None
    return Notice(ok=data.get("ok") is True, text=str(data.get("text", "")))


def account_page(owner: str, sealed: str) -> str:
    """The console page of `owner` (the SMTP page, or the account's), carrying the notice."""
    page = "/ui/smtp" if owner == SMTP_OWNER else f"/ui/accounts/{quote(owner, safe='')}"
    return f"{page}?{urlencode({'signin': sealed})}"


def return_page(owner: str, sealed: str) -> HTMLResponse:
    """A page that sends the browser on to the owner's console page (see the docstring)."""
    target = html.escape(account_page(owner, sealed), quote=True)
    body = (
        "<!doctype html><html><head><meta charset=utf-8>"
        f'<meta http-equiv="refresh" content="0;url={target}">'
        "<title>Back to Postroom</title></head>"
        f'<body><p><a href="{target}">Back to Postroom</a></p></body></html>'
    )
    headers = {
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    }
    return HTMLResponse(body, headers=headers)
