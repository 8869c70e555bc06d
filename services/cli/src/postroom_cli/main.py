"""`postroom`: admin commands that work directly on the store and the broker.

postroom seed-demo     configure the demo support account (used by `make run`)
postroom health NAME   exit 0 when service NAME has a fresh ready heartbeat (container checks)
postroom parse FILE    what the converter reads from a mail, as JSON
postroom quarantine list|show|reprocess|discard   poison mail
postroom api-key create|list|revoke, postroom rotate-secrets   keys and secrets at rest
postroom cleanup       one retention pass: delete what the retention settings no longer keep
postroom dlq list|show|replay|purge   dead-letter queues
postroom deliver --account NAME   one mail on stdin from an MTA to a push account (docs/push.md)
"""

import argparse
import asyncio
import sys
from collections.abc import Callable
from typing import Any

from postroom_cli import (
    api_keys,
    cleanup,
    deliver,
    demo,
    dlq,
    health,
    parse,
    quarantine,
    rotation,
)
from postroom_cli.command import Command

__all__ = ["COMMANDS", "build_parser", "main", "run"]

# Every command group, in the order `postroom --help` lists them.
_PARSERS: tuple[Callable[[Any], None], ...] = (
    demo.add_parsers,
    health.add_parsers,
    parse.add_parsers,
    quarantine.add_parsers,
    api_keys.add_parsers,
    rotation.add_parsers,
    cleanup.add_parsers,
    dlq.add_parsers,
    deliver.add_parsers,
)
COMMANDS: dict[str, Command] = {
    **demo.COMMANDS,
    **health.COMMANDS,
    **parse.COMMANDS,
    **quarantine.COMMANDS,
    **api_keys.COMMANDS,
    **rotation.COMMANDS,
    **cleanup.COMMANDS,
    **dlq.COMMANDS,
    **deliver.COMMANDS,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="postroom", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for add_parsers in _PARSERS:
        add_parsers(sub)
    return parser


def run(argv: list[str] | None = None) -> int:
    """Parse `argv`, run the command, return its exit status."""
    args = build_parser().parse_args(argv)
    result = COMMANDS[args.command](args)
    return result if isinstance(result, int) else asyncio.run(result)


def main(argv: list[str] | None = None) -> None:
    sys.exit(run(argv))
