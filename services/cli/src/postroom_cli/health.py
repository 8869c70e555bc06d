"""`postroom health NAME`: exit 0 when service NAME has a fresh ready heartbeat in the store,
1 otherwise (the container health checks of docker-compose.yml and the Dockerfile run it).

`--local` asks about this machine's own instances only (heartbeats are named `<hostname>:<pid>`,
postroom_shared.health): what a Kubernetes probe run inside one pod must ask, since with several
replicas "some converter is ready" says nothing about the pod being probed.

`postroom health self` is the image's HEALTHCHECK (deploy/Dockerfile): one image runs every
service, so it asks about the service the container's PID 1 runs, as `--local` does; for the API
(which writes no heartbeat) it asks the API's own `/readyz?services=false`.
"""

import argparse
import os
import socket
import sys
import urllib.request
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from postroom_cli.command import Command, opened_store
from postroom_shared.health import STALE_AFTER, fresh_services
from postroom_shared.models import ServiceHeartbeat, utcnow
from postroom_shared.store import Store

__all__ = ["COMMANDS", "add_parsers", "container_service"]

SERVICES = ("fetcher", "converter", "replier")


def add_parsers(sub: Any) -> None:
    """Register `health` on the `postroom` sub-command parser."""
    health = sub.add_parser("health", help="is a service ready? (exit 0/1)")
    health.add_argument("service", choices=[*SERVICES, "self"])
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


def container_service(cmdline: bytes) -> str | None:
    """The service a container's PID 1 runs, from its /proc/1/cmdline (NUL-separated; a console
    script shows as `python /app/.venv/bin/postroom-converter`): fetcher, converter, replier,
    api or None."""
    for arg in cmdline.split(b"\0"):
        name = os.path.basename(arg.decode(errors="replace"))
        service = name.removeprefix("postroom-")
        if service != name and service in (*SERVICES, "api"):
            return service
    return None


def _api_ready() -> int:
    port = int(os.environ.get("POSTROOM_API_PORT", "8080"))
    url = f"http://127.0.0.1:{port}/readyz?services=false"
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # a fixed http:// URL
            status = int(response.status)
    except OSError as exc:
        print(f"api: {exc}", file=sys.stderr)
        return 1
    print(f"api: {status}")
    return 0 if status == 200 else 1


def _health(args: argparse.Namespace) -> int | Coroutine[Any, Any, int]:
    if args.service != "self":
        return _heartbeat_health(args.service, args.local)
    found = container_service(Path("/proc/1/cmdline").read_bytes())
    if found is None:
        print("self: PID 1 runs no Postroom service", file=sys.stderr)
        return 1
    return _api_ready() if found == "api" else _heartbeat_health(found, local=True)


async def _heartbeat_health(service: str, local: bool) -> int:
    async with opened_store() as store:
        if local:
            beat = await _local_beat(store, service)
        else:
            beat = (await fresh_services(store)).get(service)
    if beat is None or not beat.ready:
        print(f"{service}: {beat.detail if beat else 'no fresh heartbeat'}", file=sys.stderr)
        return 1
    print(f"{service}: ready ({beat.instance})")
    return 0


COMMANDS: dict[str, Command] = {"health": _health}
