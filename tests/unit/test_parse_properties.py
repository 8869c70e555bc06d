"""Property-based: corpus mails, mutated (bit flips, truncation, duplicated headers, corrupted
boundaries, spliced bytes), never make parse_mail raise anything but MailTooLarge/MailRejected."""

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postroom_converter.domain.parse import MailRejected, MailTooLarge, ParsedMail, parse_mail

MAIL = Path(__file__).parent.parent / "fixtures" / "mail"
# Small and structurally interesting seeds (multipart, rfc822, reports, 8-bit, encoded words).
SEEDS = [
    (MAIL / relative).read_bytes()
    for relative in (
        "cpython-test_email/msg_02.txt",
        "cpython-test_email/msg_07.txt",
        "cpython-test_email/msg_38.txt",
        "cpython-test_email/msg_43.txt",
        "django-helpdesk/utf-nondecodable.eml",
        "django-helpdesk/quoted_printable.eml",
        "flanker/enclosed.eml",
        "flanker/bounce/delayed.eml",
        "flanker/torture-part.eml",
        "james-mime4j/mimetools-testmsgs/multi-nested.msg",
        "james-mime4j/mimetools-testmsgs/attachment-filename-encoding-Latin1.msg",
        "mimekit/messages/japanese.txt",
        "mimekit/messages/multipart-related-mhtml.txt",
        "mimekit/tnef/ukr.eml",
        "spamscope-mail-parser/mail_malformed_2",
    )
]
_BOUNDARY_RE = re.compile(rb'boundary="?([^";\r\n]+)', re.I)
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _survives(raw: bytes) -> None:
    try:
        mail: ParsedMail | None = parse_mail(raw)
        reason = ""
    except (MailTooLarge, MailRejected) as exc:
        mail, reason = None, str(exc)
    if mail is None:
        assert reason  # a reason for the quarantine
        return
    assert isinstance(mail, ParsedMail)
    assert isinstance(mail.text, str) and isinstance(mail.subject, str)
    assert all(a.size == len(a.data) for a in mail.attachments)


@st.composite
def bit_flips(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 50))):
        index = draw(st.integers(0, len(raw) - 1))
        raw[index] ^= 1 << draw(st.integers(0, 7))
    return bytes(raw)


@st.composite
def truncations(draw: st.DrawFn) -> bytes:
    raw = draw(st.sampled_from(SEEDS))
    return raw[: draw(st.integers(0, len(raw)))]


@st.composite
def duplicated_headers(draw: st.DrawFn) -> bytes:
    raw = draw(st.sampled_from(SEEDS))
    end = raw.find(b"\n\n") if b"\n\n" in raw else raw.find(b"\r\n\r\n")
    head, body = (raw[:end], raw[end:]) if end > 0 else (raw, b"")
    lines = head.splitlines(keepends=True)
    if not lines:
        return raw
    extra = [lines[draw(st.integers(0, len(lines) - 1))] for _ in range(draw(st.integers(1, 30)))]
    at = draw(st.integers(0, len(lines)))
    return b"".join(lines[:at] + extra + lines[at:]) + body


@st.composite
def corrupted_boundaries(draw: st.DrawFn) -> bytes:
    raw = draw(st.sampled_from(SEEDS))
    found = _BOUNDARY_RE.findall(raw)
    if not found:
        return raw
    boundary = draw(st.sampled_from(found))
    replacement = draw(
        st.sampled_from([b"", b"-", boundary + b"-", boundary[:-1], b"x" * 200, b"\x00"])
    )
    delimiters = b"--" + boundary
    count = draw(st.integers(1, max(1, raw.count(delimiters))))
    return raw.replace(delimiters, b"--" + replacement, count)


@st.composite
def splices(draw: st.DrawFn) -> bytes:
    first, second = draw(st.sampled_from(SEEDS)), draw(st.sampled_from(SEEDS))
    cut = draw(st.integers(0, len(first)))
    junk = draw(st.binary(max_size=200))
    return first[:cut] + junk + second[draw(st.integers(0, len(second))) :]


@pytest.mark.timeout(60)
@PROPERTY
@given(bit_flips())
def test_bit_flips(raw: bytes) -> None:
    _survives(raw)


@pytest.mark.timeout(60)
@PROPERTY
@given(truncations())
def test_truncation(raw: bytes) -> None:
    _survives(raw)


@pytest.mark.timeout(60)
@PROPERTY
@given(duplicated_headers())
def test_duplicated_headers(raw: bytes) -> None:
    _survives(raw)


@pytest.mark.timeout(60)
@PROPERTY
@given(corrupted_boundaries())
def test_corrupted_boundaries(raw: bytes) -> None:
    _survives(raw)


@pytest.mark.timeout(60)
@PROPERTY
@given(splices())
def test_splices(raw: bytes) -> None:
    _survives(raw)


@pytest.mark.timeout(60)
@PROPERTY
@given(st.binary(max_size=4096))
def test_arbitrary_bytes(raw: bytes) -> None:
    _survives(raw)
