"""`postroom parse`: stable keys, exit codes, stdin, and the rejected case."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from postroom_converter import ops
from postroom_converter.describe import KEYS, describe
from postroom_converter.domain.parse import MAX_MAIL_BYTES
from postroom_shared.mail.msgid import MessageIdSigner

MAIL = Path(__file__).parent.parent / "fixtures" / "mail"
POSTROOM = Path(sys.executable).parent / "postroom"


def _run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(POSTROOM), "parse", *args], input=stdin, capture_output=True, timeout=60, check=False
    )


def test_file_and_stdin_give_the_same_complete_object() -> None:
    path = MAIL / "sisimai" / "lhost-postfix-01.eml"
    by_file = _run(str(path))
    by_stdin = _run("-", stdin=path.read_bytes())
    assert by_file.returncode == 0 and by_stdin.returncode == 0
    data = json.loads(by_file.stdout)
    assert json.loads(by_stdin.stdout) == data
    assert tuple(data) == KEYS
    assert data["classification"]["kind"] == "bounce"
    assert data["bounce"]["permanent"] is True
    assert data["bounce"]["recipients"][0]["status"].startswith("5.")


def test_unreadable_file_exits_66() -> None:
    result = _run("/nonexistent/mail.eml")
    assert result.returncode == 66
    assert b"cannot read" in result.stderr


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x00\xff garbage", b"Subject: =?x-unknown?q?abc?=\r\n\r\nbody", b"no headers at all"],
)
def test_malformed_mail_still_describes_with_every_key(raw: bytes) -> None:
    data = describe(raw)
    assert tuple(data) == KEYS
    assert data["rejected"] is None
    json.dumps(data)


def test_over_the_cap_is_rejected_with_a_reason() -> None:
    data = describe(b"Subject: big\r\n\r\n" + b"x" * (MAX_MAIL_BYTES + 1))
    assert tuple(data) == KEYS
    assert data["rejected"] and "limit" in data["rejected"]
    assert data["defects"] == [f"rejected: {data['rejected']}"]


def test_the_facade_describes_what_parse_prints() -> None:
    path = MAIL / "sisimai" / "lhost-postfix-01.eml"
    assert ops.describe(path.read_bytes()) == json.loads(_run(str(path)).stdout)


def test_the_facade_recognises_our_own_mail_with_the_secret() -> None:
    mid = MessageIdSigner("s" * 40, "example.test").make("it_1", "n1")
    raw = f"From: a@example.org\r\nMessage-ID: {mid}\r\nSubject: hi\r\n\r\nbody\r\n".encode()
    assert ops.describe(raw, secret_key="s" * 40)["classification"]["kind"] == "own_loop"
    assert ops.describe(raw)["classification"]["kind"] != "own_loop"
