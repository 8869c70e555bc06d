"""`postroom parse FILE`: print, as JSON, everything the converter reads from a mail (the
converter's own code does the reading, so the answer is what the service would see)."""

import argparse
from typing import Any

from postroom_cli.command import Command
from postroom_converter import describe

__all__ = ["COMMANDS", "add_parsers"]


def add_parsers(sub: Any) -> None:
    """Register `parse` on the `postroom` sub-command parser."""
    parse = sub.add_parser("parse", help="print what the converter reads from a mail, as JSON")
    parse.add_argument("file", help="a mail file (RFC 5322 / .eml), or - for stdin")


def _parse(args: argparse.Namespace) -> int:
    return describe.main(args.file)


COMMANDS: dict[str, Command] = {"parse": _parse}
