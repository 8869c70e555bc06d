"""`postroom parse FILE`: print, as JSON, everything the converter reads from a mail
(`postroom_converter.ops.describe`, analysed exactly as the service does, under its parse
budget). Exit 0 for any readable mail, 66 when the file cannot be read, 70 when the analysis
itself failed."""

import argparse
import json
import os
import sys
from typing import Any

from postroom_cli.command import Command
from postroom_converter import ops

__all__ = ["COMMANDS", "add_parsers"]

EX_NOINPUT, EX_SOFTWARE = 66, 70


def add_parsers(sub: Any) -> None:
    """Register `parse` on the `postroom` sub-command parser."""
    parse = sub.add_parser("parse", help="print what the converter reads from a mail, as JSON")
    parse.add_argument("file", help="a mail file (RFC 5322 / .eml), or - for stdin")


def _parse(args: argparse.Namespace) -> int:
    path: str = args.file
    try:
        raw = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()  # noqa: SIM115
    except OSError as exc:
        print(f"postroom parse: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return EX_NOINPUT
    try:
        # with the secret key our own signed Message-IDs are recognised (own-loop mail)
        description = ops.describe(raw, secret_key=os.environ.get("POSTROOM_SECRET_KEY"))
    except (ops.AnalysisFailed, ValueError) as exc:  # ValueError: a bad POSTROOM_PARSE_BUDGET_S
        print(f"postroom parse: {exc}", file=sys.stderr)
        return EX_SOFTWARE
    json.dump(description, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")
    return 0


COMMANDS: dict[str, Command] = {"parse": _parse}
