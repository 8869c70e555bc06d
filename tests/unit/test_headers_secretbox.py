"""Header cleaning (no injection) and the secret box."""

import pytest

from postroom_shared.errors import ConfigError
from postroom_shared.mail.headers import clean_header_value
from postroom_shared.secretbox import SecretBox


def test_control_characters_never_survive() -> None:
    value = clean_header_value("Hi\r\nBcc: victim@example.test\x00\x7f\u2028x")
    assert "\r" not in value and "\n" not in value and "\x00" not in value
    assert value == "Hi Bcc: victim@example.test x"


def test_length_is_bounded() -> None:
    assert len(clean_header_value("a" * 5000)) == 900


def test_secretbox_round_trip_and_wrong_key() -> None:
    box = SecretBox("s" * 40)
    token = box.encrypt("hunter2")
    assert token.startswith("v1:") and "hunter2" not in token
    assert box.decrypt(token) == "hunter2"
    with pytest.raises(ConfigError, match="POSTROOM_SECRET_KEY"):
        SecretBox("t" * 40).decrypt(token)
    with pytest.raises(ConfigError):
        box.decrypt("plain")
