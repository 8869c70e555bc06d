"""The real fetcher with a crash hook: `python -m tests.crashpoints` is `postroom-fetcher`,
except that it kills itself with SIGKILL at a named place of the sync (the kill tests).

`POSTROOM_FETCHER_CRASH_AT=<point>[:<n>]` makes the process kill itself the n-th time
(default 1st) it passes `point`, with the same signal an OOM killer or `kill -9` would send: no
cleanup, no finally blocks, no flush. The points are the product's `CrashPoint`s, where the
fetcher calls its crash hook; the service itself runs with a hook that does nothing.
"""

import os
import signal
from typing import get_args

from postroom_fetcher.__main__ import main
from postroom_fetcher.sync.hooks import CrashPoint

__all__ = ["POINTS", "crash_point"]

POINTS: tuple[CrashPoint, ...] = get_args(CrashPoint)
_passed: dict[str, int] = {}


def crash_point(point: CrashPoint) -> None:
    wanted = os.environ.get("POSTROOM_FETCHER_CRASH_AT")
    if not wanted:
        return
    name, _, nth = wanted.partition(":")
    if name != point:
        return
    _passed[point] = _passed.get(point, 0) + 1
    if _passed[point] >= int(nth or "1"):
        os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    main(crash=crash_point)
