"""own-loop: our own mail coming back (our loop header or signed Message-ID) is ignored.

Decided from the content alone, before any store query: answering or threading it would start
a mail loop.
"""

from postroom_converter.domain.decision import Ignore, why
from postroom_converter.domain.rules.facts import Content

__all__ = ["NAME", "check"]

NAME = "own-loop"


def check(facts: Content) -> Ignore | None:
    if facts.classification is None or facts.classification.kind != "own_loop":
        return None
    return Ignore("our own mail came back: " + why(facts.classification))
