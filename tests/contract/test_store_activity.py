"""Contract of `OpsReader.activity`, the dashboard's counts per hour (or day), on SQLite and on
MongoDB: the same log entries and items give the same buckets on both.

Every test runs on both adapters (the `store` fixture, tests/conftest.py).
"""

from datetime import UTC, datetime, timedelta

from postroom_shared.models import ProcessingLogEntry
from postroom_shared.store import Store
from postroom_shared.store.ports import ActivityCount
from tests import factories

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def _entry(n: int, mail: str, stage: str, action: str, at: datetime) -> ProcessingLogEntry:
    return ProcessingLogEntry(
        id=f"e{n}",
        mail_key=mail,
        account_id="acc1",
        stage="converter" if stage == "converter" else "replier",
        action=action,
        reason="r",
        at=at,
    )


def _table(counts: list[ActivityCount]) -> list[tuple[str, str, int]]:
    return [(c.start.isoformat(), c.kind, c.count) for c in counts]


async def test_activity_counts_per_hour_and_per_day(store: Store) -> None:
    minute = timedelta(minutes=1)
    entries = [
        ("m1", "converter", "created", T0 + 5 * minute),
        ("m2", "converter", "threaded", T0 + 59 * minute),
        ("m3", "converter", "ignored", T0 + 60 * minute),  # the next hour
        ("m3", "converter", "quarantined", T0 + 61 * minute),  # same mail: counted once
        ("m1", "replier", "auto_reply_sent", T0 + 6 * minute),
        ("m2", "replier", "team_reply_sent", T0 + 7 * minute),
        ("m2", "replier", "notification_suppressed", T0 + 8 * minute),
        ("m3", "replier", "auto_reply_suppressed", T0 + 62 * minute),
        ("m3", "replier", "auto_reply_failed", T0 + 63 * minute),  # neither sent nor suppressed
        ("m9", "converter", "created", T0 - minute),  # before the window
        ("m8", "converter", "created", T0 + 120 * minute),  # at its end: left out
    ]
    for n, (mail, stage, action, at) in enumerate(entries):
        await store.put_log(_entry(n, mail, stage, action, at))
    await factories.stored_incident(store, 1, created_at=T0 + 5 * minute)
    await factories.stored_incident(store, 2, created_at=T0 + 30 * minute)
    await factories.stored_incident(store, 3, created_at=T0 + 90 * minute)
    await factories.stored_incident(store, 4, created_at=T0 + 3 * 60 * minute)  # after the window

    hours = await store.activity(since=T0, until=T0 + 120 * minute)
    assert _table(hours) == [
        ("2026-03-01T10:00:00+00:00", "items_created", 2),
        ("2026-03-01T10:00:00+00:00", "mails_received", 2),
        ("2026-03-01T10:00:00+00:00", "replies_sent", 2),
        ("2026-03-01T10:00:00+00:00", "replies_suppressed", 1),
        ("2026-03-01T11:00:00+00:00", "items_created", 1),
        ("2026-03-01T11:00:00+00:00", "mails_received", 1),
        ("2026-03-01T11:00:00+00:00", "replies_suppressed", 1),
    ]
    days = await store.activity(
        since=T0 - timedelta(days=1), until=T0 + timedelta(days=1), bucket="day"
    )
    assert _table(days) == [
        ("2026-03-01T00:00:00+00:00", "items_created", 4),
        ("2026-03-01T00:00:00+00:00", "mails_received", 5),
        ("2026-03-01T00:00:00+00:00", "replies_sent", 2),
        ("2026-03-01T00:00:00+00:00", "replies_suppressed", 2),
    ]
    assert await store.activity(since=T0 + timedelta(days=2), until=T0 + timedelta(days=3)) == []
