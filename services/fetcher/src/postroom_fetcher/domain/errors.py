"""Mailbox errors that name their cause, so an account's state can tell the admin what to do.

    PostroomError
    └── MailboxError (.kind, .permanent)
        ├── PermanentMailboxError  (also a PermanentError: retrying cannot help)
        └── TransientMailboxError  (also a TransientError: try again later)

`classify_response` turns a server's own words (IMAP response codes, POP3 `-ERR [AUTH]`,
Gmail's `[ALERT] Application-specific password required`, `[THROTTLED]`) into a kind; it is
pure so it can be tested on real server strings.
"""

import re
from dataclasses import dataclass
from typing import Literal

from postroom_shared.errors import PermanentError, PostroomError, TransientError

__all__ = [
    "TWO_FACTOR_HINT",
    "Classified",
    "ErrorKind",
    "MailboxError",
    "PermanentMailboxError",
    "TransientMailboxError",
    "classify_response",
    "mailbox_error",
]

ErrorKind = Literal[
    "auth", "tls", "folder", "network", "consent_revoked", "rate_limited", "protocol"
]

TWO_FACTOR_HINT = (
    "the server says this account uses two-factor authentication: create an app password"
    " for Postroom in the account's security settings and use it instead of the normal"
    " password (or connect the account with OAuth)"
)


class MailboxError(PostroomError):
    """Reading a mailbox failed; `kind` says why, `permanent` whether retrying can help."""

    kind: ErrorKind
    permanent: bool

    def __init__(self, message: str, *, kind: ErrorKind, permanent: bool) -> None:
        super().__init__(message)
        self.kind = kind
        self.permanent = permanent


class PermanentMailboxError(MailboxError, PermanentError):
    """Fails the same way until somebody changes the account or the server."""


class TransientMailboxError(MailboxError, TransientError):
    """May succeed on a later attempt (network, server busy, rate limit)."""


def mailbox_error(message: str, *, kind: ErrorKind, permanent: bool) -> MailboxError:
    cls = PermanentMailboxError if permanent else TransientMailboxError
    return cls(message, kind=kind, permanent=permanent)


@dataclass(frozen=True)
class Classified:
    kind: ErrorKind
    permanent: bool
    hint: str | None = None


_APP_PASSWORD = re.compile(
    r"application[- ]specific password|app[- ]password|two[- ]step|2-step|two[- ]factor"
    r"|2fa|second factor|web ?login required|log ?in via your web browser",
    re.IGNORECASE,
)
_RATE = re.compile(
    r"\[(THROTTLED|LIMIT|OVERQUOTA)\]|too many (simultaneous )?(connections|login|requests)"
    r"|exceeded command or bandwidth limits|rate limit|maximum number of connections"
    r"|try again later",
    re.IGNORECASE,
)
_CONSENT = re.compile(
    r"consent|not authori[sz]ed for this|invalid_grant|AADSTS65001|AADSTS70008"
    r"|token.*(revoked|expired)",
    re.IGNORECASE,
)
_AUTH = re.compile(
    r"\[(AUTHENTICATIONFAILED|AUTHORIZATIONFAILED|AUTH|EXPIRED)\]|authentication failed"
    r"|invalid credentials|login failed|authenticate failed|password|username .* not accepted"
    r"|logon failure|not authenticated|bad credentials|user is authenticated but not connected",
    re.IGNORECASE,
)
_FOLDER = re.compile(
    r"\[NONEXISTENT\]|mailbox doesn'?t exist|no such (mailbox|folder)|unknown mailbox"
    r"|folder not found|mailbox does not exist",
    re.IGNORECASE,
)
_TLS = re.compile(r"\[PRIVACYREQUIRED\]|starttls|ssl|tls|certificate", re.IGNORECASE)
_TEMPORARY = re.compile(
    r"\[(UNAVAILABLE|SYS/TEMP|IN-USE|INUSE)\]|temporar|unavailable|locked|busy"
    r"|shutting down|kicked|inactivity|disconnected|connection (closed|reset)|timed? ?out",
    re.IGNORECASE,
)


def classify_response(text: str) -> Classified:
    """What a server's error text means. Order matters: Gmail's app-password alert is an
    authentication failure, "Too many connections" is a limit even when it says "login"."""
    if _APP_PASSWORD.search(text):
        return Classified("auth", True, TWO_FACTOR_HINT)
    if _RATE.search(text):
        return Classified("rate_limited", False)
    if _CONSENT.search(text):
        return Classified("consent_revoked", True)
    if _TEMPORARY.search(text) and not re.search(r"\[(AUTHENTICATIONFAILED|AUTH)\]", text):
        return Classified("network", False)
    if _AUTH.search(text):
        return Classified("auth", True)
    if _FOLDER.search(text):
        return Classified("folder", True)
    if _TLS.search(text):
        return Classified("tls", True)
    return Classified("protocol", False)
