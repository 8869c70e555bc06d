"""Which server automatic mail goes through and how it logs in (docs/features.md F1), without a
network."""

import pytest
from pydantic import SecretStr

from postroom_replier.outbound import (
    RelaySettings,
    custom_target,
    relay_target,
    smtp_oauth_provider,
)
from postroom_replier.settings import ReplierSettings
from postroom_shared.errors import ConfigError
from postroom_shared.models import OAuthSettings, Security, SmtpSettings
from postroom_shared.secretbox import SecretBox

BOX = SecretBox("k" * 40)
OAUTH = OAuthSettings(client_id="c")


def _stored(**kw: object) -> SmtpSettings:
    fields: dict[str, object] = {"host": "smtp.example.test", "port": 587}
    fields.update(kw)
    return SmtpSettings.model_validate(fields)


def test_password_is_decrypted_and_auth_modes_map() -> None:
    target = custom_target(
        _stored(username="u@x.test", password_enc=BOX.encrypt("pw")),
        secrets=BOX,
        tokens=None,
        timeout_s=5,
    )
    assert (target.auth_mode, target.username, target.password) == ("password", "u@x.test", "pw")
    assert target.security is Security.STARTTLS and target.verify_tls and target.timeout_s == 5
    none = custom_target(
        _stored(auth="none", username="u@x.test", password_enc=BOX.encrypt("pw")),
        secrets=BOX,
        tokens=None,
        timeout_s=5,
    )
    assert (none.auth_mode, none.username, none.password) == ("none", None, None)
    anonymous = custom_target(_stored(), secrets=BOX, tokens=None, timeout_s=5)
    assert anonymous.auth_mode == "none"  # "password" without a username: a trusting relay


def test_xoauth2_needs_oauth_settings_username_and_a_token_source() -> None:
    with pytest.raises(ConfigError, match="needs oauth settings"):
        custom_target(
            _stored(auth="xoauth2", username="u@x.test"), secrets=BOX, tokens=None, timeout_s=5
        )
    with pytest.raises(ConfigError, match="username"):
        custom_target(_stored(auth="xoauth2", oauth=OAUTH), secrets=BOX, tokens=None, timeout_s=5)
    with pytest.raises(ConfigError, match="token source"):
        custom_target(
            _stored(auth="xoauth2", oauth=OAUTH, username="u@x.test"),
            secrets=BOX,
            tokens=None,
            timeout_s=5,
        )


def test_a_password_encrypted_under_another_key_is_a_clear_config_error() -> None:
    other = SecretBox("z" * 40).encrypt("pw")
    with pytest.raises(ConfigError):
        custom_target(
            _stored(username="u", password_enc=other), secrets=BOX, tokens=None, timeout_s=5
        )


@pytest.mark.parametrize(
    ("settings", "provider"),
    [
        (_stored(host="smtp.office365.com", oauth=OAUTH), "microsoft"),
        (_stored(host="smtp.gmail.com", oauth=OAUTH), "google"),
        (_stored(host="smtp.googlemail.com."), "google"),
        (
            _stored(
                host="mail.example.test",
                oauth=OAUTH.model_copy(update={"token_url": "https://t/token"}),
            ),
            "google",
        ),
        (
            _stored(
                host="mail.example.test",
                oauth=OAUTH.model_copy(update={"authority_url": "https://l/t"}),
            ),
            "microsoft",
        ),
        (_stored(host="notgmail.com", oauth=OAUTH), "microsoft"),
        # a stored provider wins over every inference
        (
            _stored(host="smtp.gmail.com", oauth=OAUTH).model_copy(
                update={"oauth_provider": "microsoft"}
            ),
            "microsoft",
        ),
        (
            _stored(host="mail.example.test", oauth=OAUTH).model_copy(
                update={"oauth_provider": "google"}
            ),
            "google",
        ),
    ],
)
def test_smtp_oauth_provider(settings: SmtpSettings, provider: str) -> None:
    assert smtp_oauth_provider(settings) == provider


def test_relay_reads_the_same_variables_as_the_replier(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSTROOM_SMTP_HOST", "relay.example.test")
    monkeypatch.setenv("POSTROOM_SMTP_PORT", "465")
    monkeypatch.setenv("POSTROOM_SMTP_SECURITY", "tls")
    monkeypatch.setenv("POSTROOM_SMTP_VERIFY_TLS", "false")
    monkeypatch.setenv("POSTROOM_SMTP_PASSWORD", "pw")
    relay = RelaySettings()
    replier = ReplierSettings(store_url="sqlite:////tmp/x.db", secret_key=SecretStr("k" * 40))
    assert replier.relay() == relay
    target = relay_target(relay)
    assert (target.host, target.port, target.security, target.verify_tls) == (
        "relay.example.test", 465, Security.TLS, False,
    )  # fmt: skip
    assert target.auth_mode == "none" and target.password == "pw"  # no username: no AUTH
