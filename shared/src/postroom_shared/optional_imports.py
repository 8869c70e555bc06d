"""Keeping an installed optional dependency out of a service that never uses it.

FastStream imports uvicorn whenever it is installed (for its own ASGI app, which no Postroom
service runs), and uvicorn brings click, multiprocessing and its protocol modules: about 2 MB
resident in the fetcher, the converter and the replier, which serve no HTTP through it (only
the API serves HTTP, with uvicorn itself). The workspace installs every service's dependencies
in one environment, so "not installed" is not an option there; `as_if_absent` makes it look so
while FastStream is first imported, which FastStream handles as it handles a missing uvicorn.
"""

import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["as_if_absent"]


@contextmanager
def as_if_absent(*names: str) -> Iterator[None]:
    """Inside, `import name` raises ImportError for each of `names` not imported yet (a None
    entry in sys.modules); on leaving, those entries go, so a later import works as usual."""
    hidden = [name for name in names if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # the documented way to block
    try:
        yield
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]
