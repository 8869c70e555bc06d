"""Queries the pipeline makes per mail on SQLite read a range of an index, never a whole table
row by row (issue 15): the budget counts of automatic mail (with the window full, the
per-domain count read each send's recipient and cost more than the mail's SMTP conversation)
and the drop of a person's addresses before they are written again (once per new contact: a
scan of every contact's address made an import of mail from new senders quadratic)."""

import contextlib
import sqlite3

import pytest

from postroom_shared.store.sqlite.config import _DROP_ADDRESSES
from postroom_shared.store.sqlite.replies import _COUNT, _COUNT_DOMAIN
from postroom_shared.store.sqlite.schema import RETENTION_SCHEMA, SCHEMA


def plan(query: str, args: tuple[object, ...]) -> str:
    with contextlib.closing(sqlite3.connect(":memory:")) as db:
        db.executescript(SCHEMA)
        db.executescript(RETENTION_SCHEMA)
        return " / ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {query}", args))


@pytest.mark.parametrize(
    ("query", "index"),
    [(_COUNT, "COVERING INDEX sends_at"), (_COUNT_DOMAIN, "INDEX sends_domain_at (<expr>=? AND")],
)
def test_the_budget_counts_search_an_index(query: str, index: str) -> None:
    args = ("2026-01-01T00:00:00+00:00", 10, "x.test")[: query.count("?")]
    found = plan(query, args)
    assert f"SEARCH sends USING {index}" in found, found


def test_dropping_a_persons_addresses_searches_an_index() -> None:
    found = plan(_DROP_ADDRESSES, ("person_1",))
    assert "SEARCH person_emails USING INDEX person_emails_person (person_id=?)" in found, found
