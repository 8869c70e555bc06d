"""`postroom deliver --account NAME`: one mail on stdin from an MTA to a push account
(docs/push.md). The fetcher owns mail intake; this module only declares the arguments, and the
exit status follows sysexits so the MTA knows whether to bounce or retry."""

import argparse
from typing import Any

from postroom_cli.command import Command
from postroom_fetcher import ops

__all__ = ["COMMANDS", "add_parsers"]


def add_parsers(sub: Any) -> None:
    """Register `deliver` on the `postroom` sub-command parser."""
    parser = sub.add_parser(
        "deliver", help="hand one mail on stdin to a push account (MTA pipe; sysexits status)"
    )
    parser.add_argument("--account", required=True, help="name (or id) of an active push account")
    parser.add_argument("--env-file", default=None, help="POSTROOM_* settings file (dotenv)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds until exit 75")


def _deliver(args: argparse.Namespace) -> int:
    return ops.deliver_from_stdin(args)


COMMANDS: dict[str, Command] = {"deliver": _deliver}
