"""unreadable: mail over a size or structure cap, or over the analysis time budget, is
quarantined.

The reason is the same on every attempt, so it goes to the quarantine at once, where a human
can look at it (and reprocess it after raising a limit).
"""

from postroom_converter.domain.decision import Quarantine
from postroom_converter.domain.rules.facts import Content

__all__ = ["NAME", "check"]

NAME = "unreadable"


def check(facts: Content) -> Quarantine | None:
    return Quarantine(facts.rejected) if facts.classification is None else None
