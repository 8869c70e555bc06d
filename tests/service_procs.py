"""Postroom's services as separate processes on the test stack, several replicas of each at once.

A replica test needs what one process cannot give: converters and repliers that really compete
for the same queues and store rows, and a fetcher that dies with SIGKILL (no finally blocks, no
lease released) while another one waits to take its accounts. Each process runs the installed
entry point (`postroom-<service>`) with its settings in the environment, like a container, and
writes its JSON log lines to a file of its own, which the tests read. The processes share a
RabbitMQ vhost of their own, so queues other tests left behind on the session broker are
neither consumed nor counted.
"""

import json
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.supervisor import rabbitmqctl
from tests.fetcher_proc import FetcherProcess
from tests.stack_env import REPO, StackEnv

__all__ = ["ServiceProcess", "own_vhost", "service_environ", "start_service"]


@dataclass
class ServiceProcess(FetcherProcess):
    """A running service (the fetcher's process handle: stop, alive, memory), with its name."""

    name: str = ""  # e.g. "converter-2"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def kill(self) -> None:
        """SIGKILL: no orderly stop, nothing released."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON log lines written so far (a line cut off by a kill is skipped)."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return [line for line in map(_json_object, text.splitlines()) if line is not None]

    def tail(self, lines: int = 10) -> str:
        """The last `lines` warnings and errors (or lines that are not JSON: a traceback)."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        loud = [line for line in text.splitlines() if '"level": "info"' not in line]
        return f"--- {self.name} (pid {self.pid}) ---\n" + "\n".join(loud[-lines:])


def _json_object(line: str) -> dict[str, Any] | None:
    try:
        parsed = json.loads(line)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def service_environ(
    stack: StackEnv, store_url: str, broker_url: str, secret: str, **extra: str
) -> dict[str, str]:
    """The environment of one service process on `stack`: its store, broker and secret key,
    replies through the stack's Postfix without TLS, no metrics port (replicas would clash)."""
    own = {
        "POSTROOM_STORE_URL": store_url,
        "POSTROOM_BROKER_URL": broker_url,
        "POSTROOM_SECRET_KEY": secret,
        "POSTROOM_SMTP_HOST": "127.0.0.1",
        "POSTROOM_SMTP_SECURITY": "none",
        "POSTROOM_METRICS_PORT": "0",
    }
    return stack.environ(**own, **extra)


def start_service(
    service: str, name: str, environ: dict[str, str], log_dir: Path
) -> ServiceProcess:
    """`postroom-<service>` with `environ`; stdout and stderr to `<log_dir>/<name>.log`."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [str(REPO / f".venv/bin/postroom-{service}")],
            cwd=REPO,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    return ServiceProcess(proc, log_path, name)


@contextmanager
def own_vhost(stack: StackEnv, prefix: str) -> Iterator[tuple[str, str]]:
    """(name, AMQP URL) of a fresh vhost on the stack's RabbitMQ, deleted afterwards."""
    vhost = f"{prefix}-{uuid.uuid4().hex[:8]}"
    rabbitmqctl(stack, "add_vhost", vhost)
    try:
        rabbitmqctl(stack, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield vhost, f"{stack.amqp_url}{vhost}"
    finally:
        rabbitmqctl(stack, "delete_vhost", vhost)
