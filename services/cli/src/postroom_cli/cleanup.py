"""`postroom cleanup`: one retention pass by hand or from cron, with a line per kind of what it
deleted (the pass itself, `postroom_shared.retention.run_once`, is what the API runs too)."""

import argparse
from typing import Any

from postroom_cli.command import Command, common_settings, opened_store
from postroom_shared.retention import KINDS, RetentionPolicy, run_once

__all__ = ["COMMANDS", "add_parsers"]


def add_parsers(sub: Any) -> None:
    """Register `cleanup` on the `postroom` sub-command parser."""
    sub.add_parser(
        "cleanup", help="delete what the retention settings no longer keep (one pass; idempotent)"
    )


async def _cleanup(args: argparse.Namespace) -> int:
    settings = common_settings()
    async with opened_store(settings) as store:
        counts = await run_once(store, RetentionPolicy.from_settings(settings))
    for kind in KINDS:
        print(f"{kind}: {counts[kind]} deleted")
    return 0


COMMANDS: dict[str, Command] = {"cleanup": _cleanup}
