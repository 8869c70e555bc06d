"""Faults for a running `run.sh` stack: SIGKILL a service and start it again as a process
supervisor (systemd, docker's restart policy) would, restart RabbitMQ, and read the broker's
queues. Used by the chaos test; every action is by PID, recorded in the stack's pid files so
that `run.sh --stop` stops what the test started."""

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.runstack import alive
from tests.stack_env import REPO, StackEnv

__all__ = ["QueueDepth", "Supervisor", "queue_depths", "rabbitmqctl", "restart_rabbitmq"]


def _environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (entry.split(b"=", 1) for entry in raw.split(b"\0") if b"=" in entry)
    return {key.decode(): value.decode() for key, value in pairs}


def _wait_gone(pid: int, timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while alive(pid):
        if time.monotonic() > end:
            raise TimeoutError(f"process {pid} still alive {timeout_s} s after SIGKILL")
        time.sleep(0.02)


@dataclass
class Supervisor:
    """Restarts the stack's services with the environment `run.sh` gave them."""

    env: StackEnv
    services: tuple[str, ...]
    environs: dict[str, dict[str, str]] = field(default_factory=dict)
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)
    self_exits: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in self.services:
            self.environs[name] = _environ_of(self.pid(name))

    def pid(self, name: str) -> int:
        return int((self.env.state_dir / "pids" / name).read_text().strip())

    def kill(self, name: str) -> int:
        """SIGKILL the service (no finally blocks, no orderly stop); returns its PID."""
        pid = self.pid(name)
        os.kill(pid, signal.SIGKILL)
        self._reap()
        _wait_gone(pid, 10)
        return pid

    def start(self, name: str) -> int:
        """Start the service again as `run.sh` did: same program, environment and log."""
        log = self.env.state_dir / "log" / f"{name}.log"
        with log.open("ab") as sink:
            proc = subprocess.Popen(
                [str(REPO / f".venv/bin/postroom-{name}")],
                env=self.environs[name],
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=sink,
                start_new_session=True,
            )
        self.children.append(proc)
        (self.env.state_dir / "pids" / name).write_text(f"{proc.pid}\n")
        return proc.pid

    def restart_exited(self) -> list[str]:
        """Start every service that exited by itself (a supervisor's restart policy)."""
        self._reap()
        exited = [name for name in self.services if not alive(self.pid(name))]
        for name in exited:
            self.self_exits.append(name)
            self.start(name)
        return exited

    def _reap(self) -> None:
        for child in self.children:
            child.poll()

    def close(self) -> None:
        """Reap the services this supervisor started, once `run.sh --stop` has stopped them."""
        for child in self.children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=10)


def rabbitmqctl(env: StackEnv, *args: str, timeout_s: float = 120) -> str:
    """rabbitmqctl against the stack's node (its env.sh names node, ports and cookie home)."""
    env_sh = env.state_dir / "stack/rabbitmq/env.sh"
    done = subprocess.run(
        ["bash", "-c", '. "$1" && shift && rabbitmqctl "$@"', "rabbitmqctl", str(env_sh), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stdout}{done.stderr}")
    return done.stdout


def restart_rabbitmq(env: StackEnv, down_s: float) -> None:
    """Stop the RabbitMQ node (the whole Erlang VM, like `systemctl restart`), keep it down for
    `down_s`, and start it the way stack.sh does, recording its PIDs where `stack.sh stop`
    finds them. Returns once the node accepts connections again."""
    rmq = env.state_dir / "stack/rabbitmq"
    pids = env.state_dir / "stack/pids"
    rabbitmqctl(env, "shutdown")
    time.sleep(down_s)
    launch = (
        '. "$1" && cd "$2" && rm -f "$RABBITMQ_PID_FILE" || exit 1; '
        "setsid /usr/lib/rabbitmq/bin/rabbitmq-server >> log/stdout.log 2>&1 < /dev/null & echo $!"
    )
    launched = subprocess.run(
        ["bash", "-c", launch, "launch", str(rmq / "env.sh"), str(rmq)],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    (pids / "rabbitmq-launcher").write_text(launched.stdout.strip() + "\n")
    rabbitmqctl(env, "wait", str(rmq / "rabbit.pid"), "--timeout", "120", timeout_s=150)
    rabbitmqctl(env, "await_startup", "--timeout", "120", timeout_s=150)
    (pids / "rabbitmq").write_text((rmq / "rabbit.pid").read_text().strip() + "\n")


@dataclass(frozen=True)
class QueueDepth:
    ready: int
    unacked: int

    @property
    def total(self) -> int:
        return self.ready + self.unacked


def queue_depths(env: StackEnv, vhost: str = "/") -> dict[str, QueueDepth]:
    """Every queue of `vhost` (the broker's default one unless named): messages ready and
    delivered but not acked."""
    out = rabbitmqctl(
        env, "-q", "list_queues", "-p", vhost, "name", "messages_ready",
        "messages_unacknowledged", "--formatter", "json",
    )  # fmt: skip
    return {
        row["name"]: QueueDepth(int(row["messages_ready"]), int(row["messages_unacknowledged"]))
        for row in json.loads(out)
    }
