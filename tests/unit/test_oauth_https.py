"""Identity provider endpoints are https only: they receive client secrets, codes and refresh
tokens. Refused in the settings, in the API's input, in `OAuthEndpoints`, and at use for an
account stored before the rule (an `http://` token URL is never contacted)."""

from typing import Any

import pytest
from pydantic import ValidationError

from postroom_api.oauth.flow import start_authorization
from postroom_api.schemas.oauth import OAuthIn
from postroom_shared.models import OAuthSettings
from postroom_shared.oauth import OAuthEndpoints, OAuthError, TokenSource, google
from postroom_shared.oauth.http import IdpSession
from postroom_shared.secretbox import SecretBox
from postroom_shared.settings import CommonSettings

BOX = SecretBox("k" * 40)
PLAIN = "http://127.0.0.1:1/token"
ENDPOINT_SETTINGS = (
    "oauth_google_token_url",
    "oauth_google_auth_url",
    "oauth_microsoft_authority",
)


@pytest.mark.parametrize("name", ENDPOINT_SETTINGS)
def test_settings_refuse_plain_http(name: str) -> None:
    base = {"store_url": "sqlite:////tmp/x.db", "secret_key": "s" * 40}
    assert CommonSettings.model_validate({**base, name: "https://idp.example/x"})
    with pytest.raises(ValidationError, match=name):
        CommonSettings.model_validate({**base, name: "http://idp.example/x"})


@pytest.mark.parametrize("name", ["microsoft_authority", "google_auth_url", "google_token_url"])
def test_endpoints_refuse_plain_http(name: str) -> None:
    with pytest.raises(ValidationError, match=name):
        OAuthEndpoints.model_validate({name: "http://idp.example/x"})


@pytest.mark.parametrize("name", ["token_url", "auth_url", "authority_url"])
def test_account_input_refuses_plain_http(name: str) -> None:
    assert OAuthIn.model_validate({"client_id": "c", name: "https://idp.example/x"})
    with pytest.raises(ValidationError, match=name):
        OAuthIn.model_validate({"client_id": "c", name: "http://idp.example/x"})


def _stored(**urls: Any) -> OAuthSettings:
    return OAuthSettings(
        client_id="c",
        client_secret_enc=BOX.encrypt("cs"),
        refresh_token_enc=BOX.encrypt("rt"),
        **urls,
    )


def test_a_stored_plain_http_token_url_is_never_contacted() -> None:
    with IdpSession(OAuthEndpoints()) as session, pytest.raises(OAuthError, match="https"):
        google.exchange_code(
            session,
            PLAIN,
            client_id="c",
            client_secret="cs",
            code="x",
            code_verifier="v" * 43,
            redirect_uri="https://postroom.example/oauth/callback",
            owner="acc",
        )
    with IdpSession(OAuthEndpoints()) as session, pytest.raises(OAuthError, match="https"):
        google.refresh(
            session, PLAIN, client_id="c", client_secret="cs", refresh_token="r", owner="a"
        )


async def test_token_source_refuses_a_stored_plain_http_token_url() -> None:
    class NoStore:
        async def get_account(self, account_id: str) -> None:
            return None

    tokens = TokenSource(NoStore(), BOX, OAuthEndpoints())  # type: ignore[arg-type]
    try:
        with pytest.raises(OAuthError, match="https"):
            await tokens.access_token("acc", "google", _stored(token_url=PLAIN))
    finally:
        tokens.close()


def test_a_sign_in_with_a_stored_plain_http_auth_url_does_not_start() -> None:
    with pytest.raises(OAuthError, match="https"):
        start_authorization(
            "google",
            "acc",
            _stored(auth_url="http://idp.example/auth"),
            BOX,
            OAuthEndpoints(),
            redirect_uri="https://postroom.example/oauth/callback",
        )


def test_https_only_names_what_it_refused() -> None:
    assert google.https_only("https://oauth2.googleapis.com/token", "x")
    for bad in ("http://x/token", "https://", "ftp://x", "HTTP://x/token", " https://x"):
        with pytest.raises(OAuthError, match="must be an https URL"):
            google.https_only(bad, "token endpoint")
