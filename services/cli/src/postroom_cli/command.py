"""What every `postroom` command group shares: the shape of a command and how it opens the
store. Each group module registers its sub-commands (`add_parsers`) and maps their names to
functions (`COMMANDS`); a function takes the parsed arguments and returns the exit status,
directly or as a coroutine (`main` runs it)."""

import argparse
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from postroom_shared.settings import CommonSettings
from postroom_shared.store import Store, open_store

__all__ = ["Command", "common_settings", "opened_store"]

Command = Callable[[argparse.Namespace], int | Coroutine[Any, Any, int]]


def common_settings() -> CommonSettings:
    """The POSTROOM_* settings every command reads (from the environment)."""
    return CommonSettings()  # type: ignore[call-arg]  # values come from the environment


@asynccontextmanager
async def opened_store(settings: CommonSettings | None = None) -> AsyncIterator[Store]:
    """The store named by POSTROOM_STORE_URL, closed when the command is done."""
    settings = settings or common_settings()
    store = await open_store(settings.store_url, settings.store_options())
    try:
        yield store
    finally:
        await store.close()
