"""A three-node RabbitMQ cluster for one test module, through deploy/local/rabbit-cluster.sh
(`stack.sh cluster`), on ports of the given stack block (tests/stack_env.py): AMQP on
base+700..702, Erlang distribution on base+710/721/732 with rabbitmqctl's ten ports above each.
Also what a failover test reads: the nodes' PIDs, cluster membership, quorum queue replicas,
and which node each process is connected to."""

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.stack_env import PORT_OFFSET, REPO

__all__ = ["Cluster", "running_cluster"]

SCRIPT = REPO / "deploy/local/rabbit-cluster.sh"
NODES = (1, 2, 3)


@dataclass(frozen=True)
class Cluster:
    state_dir: Path
    base: int
    start_s: float = 0.0

    @property
    def prefix(self) -> str:
        return "rabbit-c" if PORT_OFFSET == 0 else f"rabbit-co{PORT_OFFSET + 20000}n"

    def amqp_port(self, node: int) -> int:
        return self.base + 700 + node - 1

    def node_name(self, node: int) -> str:
        return f"{self.prefix}{node}@localhost"

    def url(self, node: int) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port(node)}/"

    @property
    def broker_url(self) -> str:
        """POSTROOM_BROKER_URL with every node, node 1 first."""
        return ",".join(self.url(node) for node in NODES)

    def environ(self) -> dict[str, str]:
        return {
            "POSTROOM_STATE_DIR": str(self.state_dir),
            "POSTROOM_CLUSTER_AMQP_PORT": str(self.amqp_port(1)),
            "POSTROOM_CLUSTER_DIST_PORT": str(self.base + 710),
            "POSTROOM_CLUSTER_NODE_PREFIX": self.prefix,
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        }

    def script(self, *args: str, timeout_s: float = 300) -> str:
        return self._run([str(SCRIPT), *args], timeout_s)

    def ctl(self, node: int, *args: str, tool: str = "rabbitmqctl") -> str:
        """rabbitmqctl (or rabbitmq-queues) against `node`."""
        env_sh = self.state_dir / f"stack/cluster/node{node}/env.sh"
        return self._run(["bash", "-c", '. "$1" && shift && "$@"', tool, str(env_sh), tool, *args])

    def _run(self, argv: list[str], timeout_s: float = 120) -> str:
        done = subprocess.run(
            argv, env=self.environ(), capture_output=True, text=True, timeout=timeout_s
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[-3:])}: {done.stdout}{done.stderr}")
        return done.stdout

    def pid(self, node: int) -> int:
        path = self.state_dir / f"stack/cluster/node{node}/rabbit.pid"
        return int(path.read_text().strip())

    def running_nodes(self, asking: int) -> list[str]:
        status = json.loads(self.ctl(asking, "cluster_status", "--formatter", "json"))
        nodes: list[str] = status["running_nodes"]
        return sorted(nodes)

    def quorum_queues(self, asking: int) -> list[dict[str, object]]:
        """name, leader, members and online members of every quorum queue."""
        out = self.ctl(
            asking, "-q", "list_queues", "name", "type", "leader", "members", "online",
            "messages", "--formatter", "json",
        )  # fmt: skip
        rows: list[dict[str, object]] = json.loads(out)
        return [row for row in rows if row["type"] == "quorum"]

    def replica_lag(self, asking: int, queue: str) -> dict[str, int]:
        """How many log entries each member's commit index is behind the leader's."""
        out = self.ctl(
            asking, "quorum_status", queue, "--formatter", "json", tool="rabbitmq-queues"
        )
        rows = json.loads(out)
        leader = max(int(row["Commit Index"]) for row in rows)
        return {row["Node Name"]: leader - int(row["Commit Index"]) for row in rows}


def amqp_peers(pid: int, ports: dict[int, int]) -> list[int]:
    """The nodes (by AMQP port, `ports`: port -> node) process `pid` has an established
    connection to."""
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established"], capture_output=True, text=True, check=True
    ).stdout
    nodes = []
    for line in out.splitlines():
        if f"pid={pid}," not in line:
            continue
        peer = line.split()[3]  # Recv-Q Send-Q Local Peer Process
        port = int(peer.rsplit(":", 1)[1])
        if port in ports:
            nodes.append(ports[port])
    return sorted(nodes)


@contextmanager
def running_cluster(state_dir: Path, base: int) -> Iterator[Cluster]:
    """The cluster up for the block (its start time in `start_s`), then stopped and removed."""
    cluster = Cluster(state_dir=state_dir, base=base)
    started = time.monotonic()
    try:
        out = cluster.script("start")
        cluster = Cluster(state_dir, base, start_s=time.monotonic() - started)
        print(out.strip(), flush=True)
        yield cluster
    finally:
        cluster.script("stop")
        shutil.rmtree(state_dir, ignore_errors=True)


def node_of(name: str) -> int:
    found = re.search(r"(\d)@", name)
    assert found, name
    return int(found.group(1))
