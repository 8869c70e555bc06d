"""Named places where the kill tests end the fetcher with SIGKILL (DESIGN.md §4).

`POSTROOM_FETCHER_CRASH_AT=<point>[:<n>]` makes the process kill itself, the n-th time (default
1st) it passes `point`, with the same signal an OOM killer or `kill -9` would send: no cleanup,
no finally blocks, no flush. Unset (always, outside those tests) it costs one dict lookup.
"""

import os
import signal

__all__ = ["POINTS", "crash_point"]

POINTS = ("mid_download", "mid_stream", "after_publish", "after_finish", "after_checkpoint")
_passed: dict[str, int] = {}


def crash_point(point: str) -> None:
    wanted = os.environ.get("POSTROOM_FETCHER_CRASH_AT")
    if not wanted:
        return
    name, _, nth = wanted.partition(":")
    if name != point:
        return
    _passed[point] = _passed.get(point, 0) + 1
    if _passed[point] >= int(nth or "1"):
        os.kill(os.getpid(), signal.SIGKILL)
