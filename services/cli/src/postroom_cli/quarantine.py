"""`postroom quarantine list|show|reprocess|discard`: poison mail from a shell. The converter
owns the quarantine; this module declares the arguments and checks them."""

import argparse
import sys
from typing import Any

from postroom_cli.command import Command
from postroom_converter import quarantine_cli

__all__ = ["COMMANDS", "add_parsers"]


def add_parsers(sub: Any) -> None:
    """Register `quarantine` on the `postroom` sub-command parser."""
    quarantine = sub.add_parser("quarantine", help="list, show, reprocess or discard poison mail")
    quarantine.add_argument("action", choices=["list", "show", "reprocess", "discard"])
    quarantine.add_argument("id", nargs="?", default="", help="quarantine id (all but list)")


async def _quarantine(args: argparse.Namespace) -> int:
    if args.action != "list" and not args.id:
        print(f"postroom quarantine {args.action} needs an id", file=sys.stderr)
        return 2
    return await quarantine_cli.run(args)


COMMANDS: dict[str, Command] = {"quarantine": _quarantine}
