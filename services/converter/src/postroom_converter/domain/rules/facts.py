"""What the rules may look at, one type per stage of the converter's work.

The stages exist so that each rule sees only what is known when it runs: `Arrival` before the
mail is read, `Content` once it is analysed (no store query yet), `Placement` once the store
was asked which items the mail may belong to.
"""

from dataclasses import dataclass

from postroom_converter.domain.threading import Candidates, ThreadDecision, decide_thread
from postroom_shared.contracts import ClassificationV1
from postroom_shared.models import EmailAccount

__all__ = ["Arrival", "Content", "Placement"]


@dataclass(frozen=True)
class Arrival:
    account_id: str  # as the mail's event names it
    account: EmailAccount | None  # None: no such account in the store


@dataclass(frozen=True)
class Content:
    classification: ClassificationV1 | None  # None: the mail could not be read
    rejected: str = ""  # why it could not (over a size or structure cap, or too slow)


@dataclass(frozen=True)
class Placement:
    classification: ClassificationV1
    sender: str | None  # the From address
    candidates: Candidates  # the items the store found for the mail's references and token

    @property
    def thread(self) -> ThreadDecision:
        return decide_thread(self.sender, self.candidates)
