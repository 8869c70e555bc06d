"""The Operations screens' pure helpers: the log's date filters, a quarantined mail's header
summary (hostile headers included), a dead letter's body excerpt and the replay answer."""

from datetime import UTC, datetime, timedelta

import pytest

from postroom_api.console.deadletter_pages import excerpt, moved_words
from postroom_api.console.log_pages import parse_when
from postroom_api.console.quarantine_pages import HEADER_LIMIT, headers_summary
from postroom_api.schemas.deadletters import MovedView


def test_a_filter_date_without_an_offset_is_utc() -> None:
    assert parse_when("") is None and parse_when("  ") is None
    assert parse_when("2026-12-04T09:30") == datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    assert parse_when("2026-12-04T09:30:05.123456") == datetime(
        2026, 12, 4, 9, 30, 5, 123456, tzinfo=UTC
    )
    paris = parse_when("2026-12-04T10:30:00+01:00")
    assert paris is not None and paris.utcoffset() == timedelta(hours=1)
    assert paris == datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="Invalid isoformat"):
        parse_when("yesterday")


def test_the_header_summary_decodes_and_keeps_to_the_header_block() -> None:
    raw = (
        b"From: =?utf-8?q?Ren=C3=A9e?= <renee@example.org>\r\n"
        b"To: support@example.test\r\nSubject: Printer\r\n\tstill broken\r\n"
        b"X-Other: not shown\r\n\r\nSubject: in the body, not a header\r\n"
    )
    assert headers_summary(raw) == [
        ("From", "Renée <renee@example.org>"),
        ("To", "support@example.test"),
        ("Subject", "Printer still broken"),
    ]


def test_the_header_summary_of_hostile_or_broken_mail() -> None:
    assert headers_summary(b"") == []
    assert headers_summary(b"\x00\xff garbage without headers") == []
    long = headers_summary(b"Subject: " + b"x" * 5000 + b"\r\n\r\n")
    assert long == [("Subject", "x" * 300 + "…")]
    # a header block larger than the limit: only its start is read, nothing fails
    huge = b"Subject: big\r\n" + b"X-Pad: " + b"y" * (2 * HEADER_LIMIT) + b"\r\n\r\n"
    assert headers_summary(huge) == [("Subject", "big")]
    broken = headers_summary(b"From: <<<@@@>>>\r\nDate: not a date\r\nSubject: ok\r\n\r\n")
    assert ("Subject", "ok") in broken


def test_a_body_excerpt_is_one_short_line() -> None:
    assert excerpt('{"a":\n  1}') == '{"a": 1}'
    assert excerpt("x" * 500, 10) == "x" * 9 + "…"
    assert excerpt("<b>kept as text</b>") == "<b>kept as text</b>"  # the template escapes it


def test_the_replay_answer() -> None:
    one = MovedView(queue="converter.mail.received.v1", count=1)
    assert moved_words("Replayed", one) == "Replayed 1 message back to converter.mail.received.v1."
    two = MovedView(queue="q.x.v1", count=2)
    assert moved_words("Purged", two) == "Purged 2 messages from q.x.v1.dlq."
