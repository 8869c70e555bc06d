"""The budget counts of automatic mail on SQLite read a range of an index, never every send
of the last hour row by row (issue 15: with the window full, the per-domain count read each
row's recipient and cost more than the mail's SMTP conversation)."""

import contextlib
import sqlite3

import pytest

from postroom_shared.store.sqlite.replies import _COUNT, _COUNT_DOMAIN
from postroom_shared.store.sqlite.schema import RETENTION_SCHEMA, SCHEMA


@pytest.mark.parametrize(
    ("query", "index"),
    [(_COUNT, "COVERING INDEX sends_at"), (_COUNT_DOMAIN, "INDEX sends_domain_at (<expr>=? AND")],
)
def test_the_budget_counts_search_an_index(query: str, index: str) -> None:
    with contextlib.closing(sqlite3.connect(":memory:")) as db:
        db.executescript(SCHEMA)
        db.executescript(RETENTION_SCHEMA)
        args = ("2026-01-01T00:00:00+00:00", 10, "x.test")[: query.count("?")]
        plan = " / ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {query}", args))
    assert f"SEARCH sends USING {index}" in plan, plan
