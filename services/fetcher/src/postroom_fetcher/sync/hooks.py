"""The crash hook: called at the seams of a sync where a process death is most dangerous
(between batches, mid stream, after a publish, after the server-side delete or flag, after the
checkpoint). In production it does nothing; the kill tests inject one that SIGKILLs the process
there (tests/crashpoints.py), to prove that a death at any of them loses and duplicates
nothing."""

from collections.abc import Callable
from typing import Literal

__all__ = ["CrashHook", "CrashPoint", "no_crash"]

CrashPoint = Literal[
    "mid_download", "mid_stream", "after_publish", "after_finish", "after_checkpoint"
]
type CrashHook = Callable[[CrashPoint], None]


def no_crash(point: CrashPoint) -> None:
    """The production crash hook: nothing happens."""
