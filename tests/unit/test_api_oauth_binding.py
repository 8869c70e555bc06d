"""A sign-in state is bound to the browser that opened the sign-in link: the link carries the
binding secret for the browser's cookie, the state only its hash (postroom_api.oauth.state)."""

import hashlib
import time

import pytest

from postroom_api.oauth.flow import start_authorization
from postroom_api.oauth.state import (
    BINDING_COOKIE_PREFIX,
    SignInLink,
    check_binding,
    open_link,
    open_state,
    seal_link,
)
from postroom_shared.models import OAuthSettings
from postroom_shared.oauth import OAuthEndpoints, OAuthError
from postroom_shared.secretbox import SecretBox

BOX = SecretBox("k" * 40)
GOOGLE = OAuthSettings(client_id="c", client_secret_enc=BOX.encrypt("cs"))


def _start() -> tuple[str, str, str, str]:
    start = start_authorization(
        "google", "acc_1", GOOGLE, BOX, OAuthEndpoints(), redirect_uri="https://p.example/cb"
    )
    return start.state, start.state_id, start.binding, start.cookie


def test_the_state_holds_the_hash_of_the_browser_secret_only() -> None:
    state, state_id, binding, cookie = _start()
    pending = open_state(state, BOX)
    assert pending.state_id == state_id and cookie == BINDING_COOKIE_PREFIX + state_id
    assert pending.binding == hashlib.sha256(binding.encode()).hexdigest()
    assert binding not in BOX.decrypt(state)
    check_binding(pending, {cookie: binding})
    _, other_id, other_binding, _ = _start()
    assert other_id != state_id and other_binding != binding


@pytest.mark.parametrize(
    "cookies",
    [
        {},
        {"session": "x"},
        {BINDING_COOKIE_PREFIX + "someone-elses-id": "x"},
        "wrong value",
        "",
    ],
)
def test_a_callback_without_the_browser_secret_is_refused(cookies: object) -> None:
    state, _, binding, cookie = _start()
    jar = {cookie: cookies} if isinstance(cookies, str) else cookies
    with pytest.raises(OAuthError, match="started in another browser"):
        check_binding(open_state(state, BOX), jar)  # type: ignore[arg-type]
    assert binding


def test_the_sign_in_link_round_trip_and_expiry() -> None:
    link = SignInLink(
        provider_url="https://idp.example/auth?state=s",
        state_id="st_0123456789abcdef",
        binding_secret="b" * 43,
        cookie_path="/api/oauth",
        secure=True,
        expires_at=time.time() + 60,
    )
    ticket = seal_link(link, BOX)
    assert "idp.example" not in ticket and "b" * 43 not in ticket
    assert open_link(ticket, BOX) == link
    with pytest.raises(OAuthError, match="older than 15 minutes"):
        open_link(ticket, BOX, now=link.expires_at + 1)
    for foreign in ("", "x" * 100, SecretBox("o" * 40).encrypt("{}"), BOX.encrypt('{"kind":"x"}')):
        with pytest.raises(OAuthError, match="not issued by this Postroom"):
            open_link(foreign, BOX)
