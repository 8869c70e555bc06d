"""The pure parts of postroom_shared.oauth: error mapping, SASL payloads, authority and
endpoint settings (the sign-in's PKCE and sealed state: test_api_oauth_state.py)."""

from typing import cast

import pytest

from postroom_shared.errors import TransientError
from postroom_shared.models import OAuthSettings
from postroom_shared.oauth import (
    OAuthEndpoints,
    OAuthError,
    ReauthorizationRequired,
    TokenSource,
    oauthbearer_payload,
    xoauth2_payload,
)
from postroom_shared.oauth.errors import token_error
from postroom_shared.oauth.http import IdpSession
from postroom_shared.oauth.microsoft import authority_of, user_scopes
from postroom_shared.secretbox import SecretBox
from postroom_shared.settings import CommonSettings
from postroom_shared.store import Store

BOX = SecretBox("k" * 40)


@pytest.mark.parametrize(
    ("error", "kind", "words"),
    [
        ("invalid_grant", ReauthorizationRequired, "Re-authorise"),
        ("interaction_required", ReauthorizationRequired, "consent"),
        ("consent_required", ReauthorizationRequired, "Re-authorise"),
        ("invalid_client", OAuthError, "client secret may have expired"),
        ("unauthorized_client", OAuthError, "permissions"),
        ("invalid_scope", OAuthError, "scopes"),
        ("access_denied", OAuthError, "declined"),
        ("temporarily_unavailable", TransientError, "retry"),
        ("server_error", TransientError, "retry"),
        ("weird", OAuthError, "refused"),
    ],
)
def test_token_errors_map_to_what_the_admin_must_do(
    error: str, kind: type[Exception], words: str
) -> None:
    exc = token_error("microsoft", "acc_9", error, "AADSTS1234: text")
    assert type(exc) is kind
    assert words in str(exc) and "AADSTS1234" in str(exc)
    if kind is not TransientError:
        assert "acc_9" in str(exc)
    assert "SMTP server" in str(token_error("google", "smtp", "invalid_grant"))


def test_sasl_payloads() -> None:
    assert xoauth2_payload("a@x.test", "T") == "user=a@x.test\x01auth=Bearer T\x01\x01"
    assert (
        oauthbearer_payload("a,b=c@x.test", "T", "imap.x.test", 993)
        == "n,a=a=2Cb=3Dc@x.test,\x01host=imap.x.test\x01port=993\x01auth=Bearer T\x01\x01"
    )
    with pytest.raises(ValueError, match="control characters"):
        xoauth2_payload("a@x.test\x01auth=Bearer evil", "T")
    with pytest.raises(ValueError, match="control characters"):
        oauthbearer_payload("a@x.test", "T\r\n")


def test_authority_needs_https_and_a_tenant() -> None:
    endpoints = OAuthEndpoints()
    oauth = OAuthSettings(client_id="c", tenant="contoso.example")
    assert authority_of(oauth, endpoints) == "https://login.microsoftonline.com/contoso.example"
    override = oauth.model_copy(update={"authority_url": "https://login.example/t1/"})
    assert authority_of(override, endpoints) == "https://login.example/t1"
    for bad in ("http://login.example/t", "https://login.example", "https:///t"):
        with pytest.raises(OAuthError, match="https URL with a tenant"):
            authority_of(oauth.model_copy(update={"authority_url": bad}), endpoints)


def test_reserved_scopes_are_left_to_msal() -> None:
    oauth = OAuthSettings(client_id="c", scopes=["openid", "offline_access", "x/IMAP"])
    assert user_scopes(oauth) == ["x/IMAP"]
    assert "https://outlook.office.com/IMAP.AccessAsUser.All" in user_scopes(
        OAuthSettings(client_id="c")
    )


def _settings() -> CommonSettings:
    return CommonSettings.model_validate({})  # the rest from the environment


def test_endpoints_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTROOM_STORE_URL", "sqlite:////tmp/x.db")
    monkeypatch.setenv("POSTROOM_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("POSTROOM_OAUTH_CA_BUNDLE", "")  # as example.env has it
    assert OAuthEndpoints.from_settings(_settings()) == OAuthEndpoints()
    monkeypatch.setenv("POSTROOM_OAUTH_MICROSOFT_AUTHORITY", "https://login.microsoftonline.us")
    monkeypatch.setenv("POSTROOM_OAUTH_GOOGLE_TOKEN_URL", "https://127.0.0.1:1/token")
    monkeypatch.setenv("POSTROOM_OAUTH_CA_BUNDLE", "/etc/postroom/idp-ca.pem")
    endpoints = OAuthEndpoints.from_settings(_settings())
    assert TokenSource.from_settings(cast(Store, object()), _settings())._endpoints == endpoints
    assert endpoints.microsoft_authority == "https://login.microsoftonline.us"
    assert endpoints.google_token_url == "https://127.0.0.1:1/token"
    assert endpoints.ca_bundle == "/etc/postroom/idp-ca.pem"
    monkeypatch.setenv("POSTROOM_OAUTH_MICROSOFT_AUTHORITY", "http://plain.example")
    with pytest.raises(ValueError, match="oauth_microsoft_authority"):
        _settings()


def test_configured_ca_bundle_beats_requests_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    with IdpSession(OAuthEndpoints(ca_bundle="/tmp/idp-ca.pem")) as session:
        merged = session.merge_environment_settings("https://idp.example/", {}, None, None, None)
        assert merged["verify"] == "/tmp/idp-ca.pem"
    with IdpSession(OAuthEndpoints()) as session:  # nothing configured: requests' usual rules
        merged = session.merge_environment_settings("https://idp.example/", {}, None, None, None)
        assert merged["verify"] == "/etc/ssl/certs/ca-certificates.crt"
