"""What the converter did with one mail, as a type.

The service, the reprocess facade and the API's quarantine route all branch on it, so it is a
small closed set instead of a sentence to parse. `str()` of each is the line the logs show.
"""

from dataclasses import dataclass

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
class Ignored:
    """The mail was logged and announced as ignored; no item changed."""

    reason: str

    def __str__(self) -> str:
        return f"ignored: {self.reason}"


@dataclass(frozen=True)
class Quarantined:
    """The mail went to the quarantine, where a human can inspect and reprocess it."""

    reason: str

    def __str__(self) -> str:
        return f"quarantined: {self.reason}"


@dataclass(frozen=True)
class Duplicate:
    """The mail had been applied already (a redelivery): nothing new was written."""

    reason: str

    def __str__(self) -> str:
        return f"duplicate: {self.reason}"


Outcome = Created | Threaded | Ignored | Quarantined | Duplicate
