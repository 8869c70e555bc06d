"""CSRF tokens: every form carries its session's token (htmx sends it as `X-CSRF-Token`), and
every request that is not a GET must show it, compared in constant time. The sign-in form,
before any session, uses a double-submit cookie instead. The session cookie is SameSite=Strict
too: the token is the second lock, not the only one."""

import hmac
import secrets

from fastapi import HTTPException, Request

from postroom_api.console.session import Visitor

__all__ = ["FIELD", "HEADER", "LOGIN_COOKIE", "check_csrf", "new_login_token", "same_token"]

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
LOGIN_COOKIE = "postroom_login"
_REFUSED = "the form's CSRF token is missing or wrong; reload the page and try again"


def same_token(expected: str, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(expected.encode(), (presented or "").encode())


def new_login_token() -> str:
    return secrets.token_urlsafe(32)


async def presented_token(request: Request) -> str | None:
    header = request.headers.get(HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(FIELD)
        return value if isinstance(value, str) else None
    return None


async def check_csrf(request: Request, visitor: Visitor) -> None:
    """403 for a non-GET request without its session's token."""
    if request.method in ("GET", "HEAD"):
        return
    if not same_token(visitor.session.csrf, await presented_token(request)):
        raise HTTPException(403, detail=_REFUSED)
