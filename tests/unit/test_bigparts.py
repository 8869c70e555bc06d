"""Large base64 bodies are decoded straight from the raw bytes, with identical results."""

import base64
import hashlib
import random
import tracemalloc
from email.message import EmailMessage

import pytest

from postroom_converter.domain.bigparts import HOLLOW_THRESHOLD, hollow
from postroom_converter.domain.parse import parse_mail


def _mail_with(data: bytes, *, crlf: bool) -> bytes:
    msg = EmailMessage()
    msg["From"] = "a@example.org"
    msg["To"] = "support@example.test"
    msg["Subject"] = "big"
    msg.set_content("see attachment")
    msg.add_attachment(data, maintype="application", subtype="octet-stream", filename="big.bin")
    raw = msg.as_bytes()
    return raw.replace(b"\n", b"\r\n") if crlf else raw


@pytest.mark.parametrize("crlf", [False, True])
def test_large_attachment_is_identical_to_the_ordinary_path(crlf: bool) -> None:
    data = random.Random(3).randbytes(3 * 1024 * 1024)
    raw = _mail_with(data, crlf=crlf)
    assert len(hollow(raw).spans) == 1
    mail = parse_mail(raw)
    assert mail.text == "see attachment"
    [attachment] = mail.attachments
    assert attachment.filename == "big.bin"
    assert attachment.data == data
    assert attachment.sha256 == hashlib.sha256(data).hexdigest()


def test_base64_looking_text_is_left_alone() -> None:
    line = base64.b64encode(b"x" * 57).decode()
    body = "\n".join([line] * (HOLLOW_THRESHOLD // len(line) + 10))
    raw = f"From: a@example.org\nSubject: paste\nContent-Type: text/plain\n\n{body}\n".encode()
    assert hollow(raw).spans == ()
    assert parse_mail(raw).text.startswith(line)


def test_peak_memory_stays_below_twice_the_mail() -> None:
    raw = _mail_with(random.Random(5).randbytes(12 * 1024 * 1024), crlf=False)
    tracemalloc.start()
    try:
        parse_mail(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * len(raw)


def test_large_base64_one_character_past_a_quantum_decodes() -> None:
    """As for small parts (transfer.py): the stray last character is dropped, not the file."""
    data = random.Random(5).randbytes(HOLLOW_THRESHOLD + 3000)
    raw = _mail_with(data, crlf=False)
    end = raw.rindex(b"\n\n--")
    raw = raw[:end] + b"\nQ" + raw[end:]
    assert len(hollow(raw).spans) == 1
    [attachment] = parse_mail(raw).attachments
    assert attachment.data == data
