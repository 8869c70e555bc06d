"""`postroom health NAME`: exit 0 when service NAME has a fresh ready heartbeat in the store,
1 otherwise (the container health checks of docker-compose.yml and the Dockerfile run it).

`--local` asks about this machine's own instances only (heartbeats are named `<hostname>:<pid>`,
postroom_shared.health): what a Kubernetes probe run inside one pod must ask, since with several
replicas "some converter is ready" says nothing about the pod being probed.
"""

import argparse
import socket
import sys
from typing import Any

from postroom_cli.command import Command, opened_store
from postroom_shared.health import STALE_AFTER, fresh_services
from postroom_shared.models import ServiceHeartbeat, utcnow
from postroom_shared.store import Store

__all__ = ["COMMANDS", "add_parsers"]


def add_parsers(sub: Any) -> None:
    """Register `health` on the `postroom` sub-command parser."""
    health = sub.add_parser("health", help="is a service ready? (exit 0/1)")
    health.add_argument("service", choices=["fetcher", "converter", "replier"])
    health.add_argument(
        "--local",
        action="store_true",
        help="only this host's (this pod's) instances: the Kubernetes readiness probe",
    )


async def _local_beat(store: Store, service: str) -> ServiceHeartbeat | None:
    """The newest fresh heartbeat of `service` written from this host, ready ones first."""
    prefix = f"{socket.gethostname()}:"
    beats = [
        beat
        for beat in await store.heartbeats(since=utcnow() - STALE_AFTER)
        if beat.service == service and beat.instance.startswith(prefix)
    ]
    return max(beats, key=lambda b: (b.ready, b.seen_at), default=None)


async def _health(args: argparse.Namespace) -> int:
    async with opened_store() as store:
        if args.local:
            beat = await _local_beat(store, args.service)
        else:
            beat = (await fresh_services(store)).get(args.service)
    if beat is None or not beat.ready:
        print(f"{args.service}: {beat.detail if beat else 'no fresh heartbeat'}", file=sys.stderr)
        return 1
    print(f"{args.service}: ready ({beat.instance})")
    return 0


COMMANDS: dict[str, Command] = {"health": _health}
