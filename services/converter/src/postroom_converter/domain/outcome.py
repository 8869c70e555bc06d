"""What the converter did with one mail, as a type.

The service, the reprocess facade and the API's quarantine route all branch on it, so it is a
small closed set instead of a sentence to parse. `str()` of each is the line the logs show.
"""

from dataclasses import dataclass
from typing import ClassVar

__all__ = ["Created", "Duplicate", "Ignored", "Outcome", "Quarantined", "Threaded"]


@dataclass(frozen=True)
class Created:
    """The mail opened a new item."""

    token: str
    reason: str  # why no existing item took it

    def __str__(self) -> str:
        return f"created {self.token} ({self.reason})"


@dataclass(frozen=True)
class Threaded:
    """The mail was appended to an existing item's thread."""

    token: str
    reason: str  # which threading rule matched

    def __str__(self) -> str:
        return f"threaded onto {self.token} ({self.reason})"


@dataclass(frozen=True)
class _Stopped:
    reason: str
    verb: ClassVar[str]

    def __str__(self) -> str:
        return f"{self.verb}: {self.reason}"


@dataclass(frozen=True)
class Ignored(_Stopped):
    """The mail was logged and announced as ignored; no item changed."""

    verb = "ignored"


@dataclass(frozen=True)
class Quarantined(_Stopped):
    """The mail went to the quarantine, where a human can inspect and reprocess it."""

    verb = "quarantined"


@dataclass(frozen=True)
class Duplicate(_Stopped):
    """The mail had been applied already (a redelivery): nothing new was written."""

    verb = "duplicate"


Outcome = Created | Threaded | Ignored | Quarantined | Duplicate
