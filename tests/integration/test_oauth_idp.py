"""The test identity provider itself speaks the protocol strictly: what the OAuth tests rely
on (PKCE, client authentication, rotation, Dovecot's validation answers) is checked here with
plain HTTP requests."""

import base64
import hashlib
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests

from tests.idp import IdentityProvider

REDIRECT = "https://app.example.test/cb"


@pytest.fixture
def http(idp: IdentityProvider) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        session.verify = str(idp.ca_file)
        yield session


def _challenge(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


def _code(http: requests.Session, idp: IdentityProvider, client_id: str, **extra: str) -> str:
    params = {
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "openid offline_access mail",
        "state": "st",
        **extra,
    }
    resp = http.get(
        f"{idp.authority()}/oauth2/v2.0/authorize?{urlencode(params)}", allow_redirects=False
    )
    assert resp.status_code == 302
    back = dict(parse_qsl(urlsplit(resp.headers["Location"]).query))
    assert back["state"] == "st"
    return back["code"]


def test_discovery_document(http: requests.Session, idp: IdentityProvider) -> None:
    doc = http.get(f"{idp.authority('t1')}/v2.0/.well-known/openid-configuration").json()
    assert doc["token_endpoint"] == f"{idp.https_url}/t1/oauth2/v2.0/token"
    assert "S256" in doc["code_challenge_methods_supported"]


def test_pkce_is_required_and_verified(http: requests.Session, idp: IdentityProvider) -> None:
    client = idp.register_client(secret="s", redirect_uris=(REDIRECT,))
    token_url = f"{idp.authority()}/oauth2/v2.0/token"
    resp = http.get(
        f"{idp.authority()}/oauth2/v2.0/authorize?"
        + urlencode(
            {"client_id": client.client_id, "redirect_uri": REDIRECT, "response_type": "code"}
        ),
        allow_redirects=False,
    )
    assert "error=invalid_request" in resp.headers["Location"]
    unregistered = http.get(
        f"{idp.authority()}/oauth2/v2.0/authorize?"
        + urlencode({"client_id": client.client_id, "redirect_uri": "https://evil.test/"}),
        allow_redirects=False,
    )
    assert unregistered.status_code == 400  # never redirects to an unknown URI

    verifier = "v" * 50
    code = _code(
        http,
        idp,
        client.client_id,
        code_challenge=_challenge(verifier),
        code_challenge_method="S256",
    )
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    wrong = http.post(
        token_url, data={**form, "code_verifier": "w" * 50}, auth=(client.client_id, "s")
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    # the code was consumed by the failed attempt, as a real IdP does
    code = _code(
        http,
        idp,
        client.client_id,
        code_challenge=_challenge(verifier),
        code_challenge_method="S256",
    )
    form["code"] = code
    bad_secret = http.post(
        token_url, data={**form, "code_verifier": verifier}, auth=(client.client_id, "x")
    )
    assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"
    code = _code(
        http,
        idp,
        client.client_id,
        code_challenge=_challenge(verifier),
        code_challenge_method="S256",
    )
    ok = http.post(
        token_url,
        data={
            **form,
            "code": code,
            "code_verifier": verifier,
            "client_id": client.client_id,
            "client_secret": "s",
        },
    )
    assert ok.status_code == 200
    body = ok.json()
    assert body["refresh_token"] and body["id_token"] and body["expires_in"] == 3600


def test_refresh_rotation_and_validation_answers(
    http: requests.Session, idp: IdentityProvider
) -> None:
    client = idp.register_client(require_pkce=False, redirect_uris=(REDIRECT,))
    code = _code(http, idp, client.client_id, login_hint="Bob@Example.test")
    token_url = idp.google_token_url
    first = http.post(
        token_url,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": client.client_id,
        },
    ).json()
    refresh = {"grant_type": "refresh_token", "client_id": client.client_id}
    second = http.post(token_url, data={**refresh, "refresh_token": first["refresh_token"]}).json()
    assert second["refresh_token"] != first["refresh_token"]
    replay = http.post(token_url, data={**refresh, "refresh_token": first["refresh_token"]})
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert idp.grants(client.client_id) == {"authorization_code": 1, "refresh_token": 1}

    info = http.get(f"{idp.http_url}/tokeninfo", params={"access_token": second["access_token"]})
    assert info.json() == {"email": "bob@example.test", "active": "true", "scope": "mail"}
    idp.revoke_user("bob@example.test")
    intro = http.post(f"{idp.http_url}/introspect", data={"token": second["access_token"]})
    assert intro.status_code == 200 and intro.json()["active"] == "false"
    unknown = http.get(f"{idp.http_url}/tokeninfo", params={"access_token": "nope"})
    assert unknown.status_code == 401 and unknown.json() == {"error": "invalid_token"}
    assert http.get(f"{idp.http_url}/elsewhere").status_code == 404


def test_https_listener_needs_the_test_ca(idp: IdentityProvider) -> None:
    with requests.Session() as session:
        session.trust_env = False
        with pytest.raises(requests.exceptions.SSLError):
            session.get(f"{idp.authority()}/v2.0/.well-known/openid-configuration", timeout=5)
