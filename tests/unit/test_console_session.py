"""The console's pure session rules: idle and absolute expiry, how often activity is written,
when the cookie is Secure, and the CSRF comparison."""

from datetime import timedelta

from starlette.requests import Request

from postroom_api.console.csrf import same_token
from postroom_api.console.session import cookie_secure, expiry, needs_touch, session_id
from postroom_shared.models import utcnow
from postroom_shared.store.ports import ConsoleSession


def _session(idle_s: float = 0, lasts_s: float = 3600) -> ConsoleSession:
    now = utcnow()
    return ConsoleSession(
        id="s",
        key_hash="k",
        csrf="c",
        created_at=now,
        seen_at=now - timedelta(seconds=idle_s),
        expires_at=now + timedelta(seconds=lasts_s),
    )


def test_expiry_idle_and_absolute() -> None:
    now = utcnow()
    assert expiry(_session(idle_s=1), now, idle_s=2) is None
    assert "idle" in (expiry(_session(idle_s=3), now, idle_s=2) or "")
    assert "maximum" in (expiry(_session(lasts_s=-1), now, idle_s=2) or "")


def test_activity_is_written_at_most_every_quarter_of_the_idle_time() -> None:
    now = utcnow()
    assert not needs_touch(_session(idle_s=10), now, idle_s=60)
    assert needs_touch(_session(idle_s=16), now, idle_s=60)
    assert needs_touch(_session(idle_s=61), now, idle_s=3600)  # a minute at most


def _request(scheme: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-proto", forwarded.encode())] if forwarded else []
    scope = {"type": "http", "scheme": scheme, "server": ("h", 80), "path": "/ui",
             "headers": headers, "query_string": b""}  # fmt: skip
    return Request(scope)


def test_cookie_is_secure_over_https_or_behind_a_proxy_saying_so() -> None:
    assert not cookie_secure(_request("http"))
    assert cookie_secure(_request("https"))
    assert cookie_secure(_request("http", "https"))
    assert not cookie_secure(_request("http", "http"))


def test_csrf_tokens_compare_exactly_and_the_store_never_holds_the_cookie() -> None:
    assert same_token("abc", "abc")
    assert (
        not same_token("abc", None) and not same_token("abc", "") and not same_token("abc", "abd")
    )
    assert session_id("cookie") != "cookie" and len(session_id("cookie")) == 64
