"""The pure parts of the activity counts: how a replier action counts (`reply_kind`), how the
adapters' grouped rows are summed (`activity_counts`), and how the API fills the hours that had
nothing (`routes.activity.series`)."""

from datetime import UTC, datetime, timedelta

from postroom_api.routes.activity import series
from postroom_shared.store.ports import ActivityCount
from postroom_shared.store.ports.values import activity_counts, reply_kind

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)


def test_reply_kind_reads_the_outcome_at_the_end_of_the_action() -> None:
    assert reply_kind("auto_reply_sent") == "replies_sent"
    assert reply_kind("too_large_notice_sent") == "replies_sent"
    assert reply_kind("notification_suppressed") == "replies_suppressed"
    for other in ("auto_reply_failed", "team_reply_warning", "auto_reply_template_failed", ""):
        assert reply_kind(other) is None


def test_rows_are_summed_per_bucket_and_kind() -> None:
    rows = [
        ("2026-03-01T10:00:00Z", "reply", "auto_reply_sent", 2),
        ("2026-03-01T10:00:00Z", "reply", "team_reply_sent", 3),
        ("2026-03-01T10:00:00Z", "reply", "auto_reply_failed", 7),  # counted nowhere
        ("2026-03-01T09:00:00Z", "items_created", "", 1),
        ("2026-03-01T09:00:00Z", "not_a_kind", "", 4),
        ("2026-03-01T11:00:00Z", "mails_received", "", 0),  # an empty bucket is left out
    ]
    assert activity_counts(rows) == [
        ActivityCount(start=T0 - timedelta(hours=1), kind="items_created", count=1),
        ActivityCount(start=T0, kind="replies_sent", count=5),
    ]


def test_series_gives_every_bucket_a_count() -> None:
    starts = [T0 + timedelta(hours=h) for h in range(3)]
    counts = [
        ActivityCount(start=starts[1], kind="mails_received", count=4),
        ActivityCount(start=T0 - timedelta(hours=5), kind="mails_received", count=9),  # outside
    ]
    filled = series(counts, starts)
    assert filled["mails_received"] == [0, 4, 0]
    assert filled["items_created"] == [0, 0, 0]
    assert set(filled) == {"mails_received", "items_created", "replies_sent", "replies_suppressed"}
