"""`mail.received.v1`'s raw mail on the wire: base64 in JSON, and the UTF-8 text that events
written before the encoding was enforced carried, both read exactly as before the decode lost
its copy of the text (binascii instead of base64.b64decode)."""

import base64
import binascii
import json
import os

import pytest
from pydantic import ValidationError

from postroom_shared.contracts import MailReceivedV1

_RAW = b"Subject: caf\xe9\r\nFrom: a@example.test\r\n\r\n8-bit \xff body\r\n"


def _event(raw_inline: object) -> str:
    return json.dumps(
        {
            "event_id": "6f1d2a8e-53b1-4b7c-9a57-0c1f5e2f7d10",
            "source": "fetcher",
            "correlation_id": "c",
            "account_id": "a",
            "mail_key": "a/INBOX/1/1",
            "size": 1,
            "sha256": "0" * 64,
            "raw_inline": raw_inline,
        }
    )


def _before(value: str) -> bytes:
    """What the validator did before: base64.b64decode(validate=True), else the text's UTF-8."""
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        return value.encode()


@pytest.mark.parametrize(
    "wire",
    [
        base64.b64encode(_RAW).decode(),
        base64.b64encode(os.urandom(100_000)).decode(),
        "",
        "QUJD",
        "QUJ",  # bad padding: read as text, as before
        "QUJD====",
        "Subject: legacy\r\n\r\ntext",  # an event from before the encoding was enforced
        "QUJD\n",
        "QU JD",
    ],
)
def test_raw_inline_reads_as_it_did(wire: str) -> None:
    event = MailReceivedV1.model_validate_json(_event(wire))
    assert event.raw_inline == _before(wire)
    assert MailReceivedV1.model_validate_json(event.model_dump_json()) == event


def test_non_ascii_text_is_refused_as_before() -> None:
    with pytest.raises(ValueError, match="ASCII"):
        _before("Subject: café")
    with pytest.raises(ValidationError, match="ASCII"):
        MailReceivedV1.model_validate_json(_event("Subject: café"))
