"""Console sessions: sign-in with an API key makes a stored session (`ConsoleSessions`), whose
random id travels in an HttpOnly, SameSite=Strict cookie; idle and absolute expiry; each
request checks the key again through `auth.principal_for_hash`, so a revoked key is out at once.

The decisions (`expiry`, `needs_touch`, `cookie_secure`) are pure; `signed_in` is the
dependency every page takes. docs/security.md, "Console", has the rules.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastapi import Request

from postroom_api.auth import Principal, principal_for_hash
from postroom_api.components import Components, components_of
from postroom_shared.apikeys import hash_key
from postroom_shared.models import utcnow
from postroom_shared.store.ports import ConsoleSession

__all__ = [
    "COOKIE",
    "SignInNeeded",
    "Visitor",
    "cookie_secure",
    "expiry",
    "needs_touch",
    "open_session",
    "session_id",
    "signed_in",
]

COOKIE = "postroom_session"


class SignInNeeded(Exception):
    """No valid session: the console answers with the sign-in page (`why` says what ended)."""

    def __init__(self, why: str = "") -> None:
        super().__init__(why)
        self.why = why


@dataclass(frozen=True)
class Visitor:
    """A signed-in browser: its session and the API key's principal."""

    session: ConsoleSession
    principal: Principal

    @property
    def can_work(self) -> bool:
        return self.principal.admin or "agent" in self.principal.scopes

    @property
    def sees_config(self) -> bool:
        return self.principal.admin or "read" in self.principal.scopes


def session_id(cookie: str) -> str:
    """The stored id of a cookie's value (the store never holds a usable cookie)."""
    return hashlib.sha256(cookie.encode()).hexdigest()


def expiry(session: ConsoleSession, now: datetime, idle_s: float) -> str | None:
    """Why `session` is over at `now`, or None while it is valid."""
    if now >= session.expires_at:
        return "the session reached its maximum length; sign in again"
    if now - session.seen_at > timedelta(seconds=idle_s):
        return "the session was idle too long; sign in again"
    return None


def needs_touch(session: ConsoleSession, now: datetime, idle_s: float) -> bool:
    """Record activity at most every quarter of the idle time (a minute at most), not on
    every request."""
    return now - session.seen_at > timedelta(seconds=min(idle_s / 4, 60.0))


def cookie_secure(request: Request) -> bool:
    """Secure when the browser came over https, directly or through a proxy saying so."""
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


async def open_session(components: Components, presented_key: str) -> tuple[str, ConsoleSession]:
    """(the cookie's value, the stored session) for a key the caller has checked."""
    now = utcnow()
    cookie = secrets.token_urlsafe(32)
    session = ConsoleSession(
        id=session_id(cookie),
        key_hash=hash_key(presented_key),
        csrf=secrets.token_urlsafe(32),
        created_at=now,
        seen_at=now,
        expires_at=now + timedelta(seconds=components.settings.console_max_s),
    )
    await components.store.put_session(session)
    return cookie, session


async def signed_in(request: Request) -> Visitor:
    """The dependency of every console page: the visitor, or `SignInNeeded`."""
    cookie = request.cookies.get(COOKIE)
    if not cookie or len(cookie) > 200:
        raise SignInNeeded()
    components = components_of(request.app)
    store = components.store
    session = await store.get_session(session_id(cookie))
    if session is None:
        raise SignInNeeded("you were signed out; sign in again")
    now = utcnow()
    idle_s = components.settings.console_idle_s
    why = expiry(session, now, idle_s)
    if why is None:
        principal = await principal_for_hash(components, session.key_hash)
        why = None if principal is not None else "the API key was revoked"
    if why is not None or principal is None:
        await store.delete_session(session.id)
        raise SignInNeeded(why or "")
    if needs_touch(session, now, idle_s):
        await store.touch_session(session.id, now)
    return Visitor(session, principal)
