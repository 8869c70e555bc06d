"""The pure parts of the API's OAuth sign-in (postroom_api.oauth.state): PKCE and the sealed
sign-in state."""

import base64
import json
import time

import pytest

from postroom_api.oauth.state import (
    STATE_TTL_S,
    PendingSignIn,
    new_binding,
    open_state,
    pkce_challenge,
    pkce_verifier,
    seal_state,
)
from postroom_shared.oauth import OAuthError
from postroom_shared.secretbox import SecretBox

BOX = SecretBox("k" * 40)


def _pending(**changes: object) -> PendingSignIn:
    data: dict[str, object] = {
        "owner": "acc_1",
        "provider": "microsoft",
        "code_verifier": pkce_verifier(),
        "redirect_uri": "https://p.example/cb",
        "scopes": ["openid", "offline_access"],
        "nonce": "n0",
        "state_id": "st_0123456789abcdef",
        "binding": new_binding()[1],
        "expires_at": time.time() + STATE_TTL_S,
    }
    return PendingSignIn.model_validate(data | changes)


def test_pkce_s256_matches_rfc7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    fresh = {pkce_verifier() for _ in range(20)}
    assert len(fresh) == 20 and all(43 <= len(v) <= 128 for v in fresh)


def test_state_round_trip_hides_its_content() -> None:
    pending = _pending()
    state = seal_state(pending, BOX)
    assert "acc_1" not in state and pending.code_verifier not in state
    assert open_state(state, BOX) == pending


def test_state_expires_after_fifteen_minutes() -> None:
    pending = _pending()
    state = seal_state(pending, BOX)
    assert open_state(state, BOX, now=pending.expires_at - 1) == pending
    with pytest.raises(OAuthError, match="longer than 15 minutes"):
        open_state(state, BOX, now=pending.expires_at + 1)


@pytest.mark.parametrize(
    "state",
    [
        "",
        "x" * 9000,
        "v1:garbage",
        SecretBox("other" * 8).encrypt(json.dumps({"kind": "postroom.oauth.state.v1"})),
        BOX.encrypt("refresh-token-ciphertext-is-not-a-state"),
        BOX.encrypt(json.dumps({"kind": "something.else", "owner": "a"})),
        BOX.encrypt(json.dumps({"kind": "postroom.oauth.state.v1", "owner": "a"})),
    ],
)
def test_foreign_or_broken_states_are_refused(state: str) -> None:
    with pytest.raises(OAuthError, match="start the sign-in again"):
        open_state(state, BOX)


def test_tampered_state_is_refused() -> None:
    state = seal_state(_pending(), BOX)
    raw = bytearray(base64.urlsafe_b64decode(state[3:]))
    raw[40] ^= 1
    with pytest.raises(OAuthError):
        open_state("v1:" + base64.urlsafe_b64encode(bytes(raw)).decode(), BOX)
