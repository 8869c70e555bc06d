"""`postroom health NAME`: exit 0 when service NAME has a fresh ready heartbeat in the store,
1 otherwise (the container health checks of docker-compose.yml run it)."""

import argparse
import sys
from typing import Any

from postroom_cli.command import Command, opened_store
from postroom_shared.health import fresh_services

__all__ = ["COMMANDS", "add_parsers"]


def add_parsers(sub: Any) -> None:
    """Register `health` on the `postroom` sub-command parser."""
    health = sub.add_parser("health", help="is a service ready? (exit 0/1)")
    health.add_argument("service", choices=["fetcher", "converter", "replier"])


async def _health(args: argparse.Namespace) -> int:
    async with opened_store() as store:
        beat = (await fresh_services(store)).get(args.service)
    if beat is None or not beat.ready:
        print(f"{args.service}: {beat.detail if beat else 'no fresh heartbeat'}", file=sys.stderr)
        return 1
    print(f"{args.service}: ready ({beat.instance})")
    return 0


COMMANDS: dict[str, Command] = {"health": _health}
