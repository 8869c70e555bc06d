"""unknown-account: mail for an account the store does not know is ignored.

The account was deleted after the fetcher read the mail (or the event was replayed from
elsewhere); there is no item type, workflow or mapping to apply it with.
"""

from postroom_converter.domain.decision import Ignore
from postroom_converter.domain.rules.facts import Arrival

__all__ = ["NAME", "check"]

NAME = "unknown-account"


def check(facts: Arrival) -> Ignore | None:
    return Ignore(f"unknown account {facts.account_id}") if facts.account is None else None
