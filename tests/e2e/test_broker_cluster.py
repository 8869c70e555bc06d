"""The whole pipeline on a three-node RabbitMQ cluster, and one node SIGKILLed mid-run.

The cluster is deploy/local/rabbit-cluster.sh (`stack.sh cluster`), for this module only; the
product is `run.sh --background` with only the mail servers of its own stack
(POSTROOM_STACK_COMPONENTS=mail) and every service given the three node addresses in
POSTROOM_BROKER_URL. While 1,000 mails flow (POSTROOM_CLUSTER_MAILS changes that), the node
most services are connected to is killed: every mail must still become one item answered by
one auto-reply, each service must carry on connected to a survivor without being restarted
(same PID), and the killed node, started again, must rejoin and its quorum queue replicas
catch up with the leaders.
"""

import os
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.runstack import RunningStack, alive, background_stack, wait_for
from tests.e2e.test_chaos import Mail, all_items, chaos_mails, count, headers
from tests.rabbit_cluster import NODES, Cluster, amqp_peers, node_of, running_cluster
from tests.stack_env import StackEnv, e2e_stack_env, short_state_dir

pytestmark = pytest.mark.e2e

MAILS = int(os.environ.get("POSTROOM_CLUSTER_MAILS", "1000"))
SEND_PER_S = 40.0  # mail keeps arriving for about 25 s, the kill in the middle of it
SERVICES = ("fetcher", "converter", "replier", "api")
FLOW_TIMEOUT_S = 420.0
# A killed node cancels the handlers in flight on its connections, as a replier kill would:
# a send claim left by one frees up after retry deadline + 2 x SMTP timeout + 10 s (30 s here,
# as in the chaos test; the production defaults would only make the run longer).
STACK_SETTINGS = {"POSTROOM_SMTP_TIMEOUT_S": "5", "POSTROOM_SMTP_RETRY_DEADLINE_S": "10"}
CATCH_UP_TIMEOUT_S = 90.0
# the loop and chaos tests' block (index 2): they never run at the same time as this module
BLOCK = 2


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    base = e2e_stack_env(Path("/nonexistent"), index=BLOCK, with_mongo=False).base
    with running_cluster(short_state_dir("pr-cluster-"), base) as running:
        print(f"cluster: three nodes up and joined in {running.start_s:.1f} s", flush=True)
        yield running


@pytest.fixture
def stack(cluster: Cluster) -> Iterator[RunningStack]:
    env = e2e_stack_env(short_state_dir("pr-clstack-"), index=BLOCK, with_mongo=False)
    extra = {
        **STACK_SETTINGS,
        "POSTROOM_STACK_COMPONENTS": "mail",  # Dovecot and Postfix; the cluster is the broker
        "POSTROOM_BROKER_URL": cluster.broker_url,
    }
    with background_stack(env, extra) as running:
        yield running


class Sender(threading.Thread):
    def __init__(self, env: StackEnv, mails: list[Mail]) -> None:
        super().__init__(daemon=True)
        self.env, self.mails, self.sent = env, mails, 0
        self.error: BaseException | None = None

    def run(self) -> None:
        import smtplib

        start = time.monotonic()
        try:
            for chunk in range(0, len(self.mails), 100):
                with smtplib.SMTP("127.0.0.1", self.env.smtp_port, timeout=30) as smtp:
                    for mail in self.mails[chunk : chunk + 100]:
                        time.sleep(max(0.0, start + mail.n / SEND_PER_S - time.monotonic()))
                        smtp.send_message(mail.message)
                        self.sent += 1
        except BaseException as exc:  # reported by the test
            self.error = exc


def service_pids(env: StackEnv) -> dict[str, int]:
    return {name: int((env.state_dir / "pids" / name).read_text()) for name in SERVICES}


def connections(cluster: Cluster, pids: dict[str, int]) -> dict[str, list[int]]:
    """The nodes each service is connected to."""
    ports = {cluster.amqp_port(node): node for node in NODES}
    return {name: amqp_peers(pid, ports) for name, pid in pids.items()}


def all_connected(cluster: Cluster, pids: dict[str, int]) -> dict[str, list[int]] | None:
    found = connections(cluster, pids)
    return found if all(found.values()) else None


def ready(stack: RunningStack) -> bool:
    try:
        return httpx.get(stack.api + "/readyz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.timeout(900)
def test_a_node_killed_mid_run_loses_and_doubles_nothing_and_rejoins(
    cluster: Cluster, stack: RunningStack
) -> None:
    env = stack.env
    started = time.monotonic()
    pids = service_pids(env)
    before = wait_for(lambda: all_connected(cluster, pids), 30, "every service connected")
    victim = Counter(node for nodes in before.values() for node in set(nodes)).most_common(1)[0]
    victim_node = victim[0]
    survivors = [node for node in NODES if node != victim_node]
    print(f"cluster: connections before {before}; killing node {victim_node}", flush=True)

    run = uuid.uuid4().hex[:8]
    mails = chaos_mails(run, MAILS)
    by_msgid = {mail.message_id: mail for mail in mails}
    outbound_before = count(env, "outbound")
    sender = Sender(env, mails)
    sender.start()
    wait_for(lambda: sender.sent >= MAILS // 2 or sender.error, 120, "half the mail sent")
    killed_at = time.monotonic()
    cluster.script("kill", str(victim_node))
    replies_at_kill = count(env, "outbound") - outbound_before
    print(f"cluster: node {victim_node} killed after {sender.sent} mails sent,"
          f" {replies_at_kill} answered", flush=True)  # fmt: skip

    # the services move to the survivors by themselves, and the API is ready again
    after = wait_for(lambda: all_connected(cluster, pids), 60, "every service reconnected")
    failover_s = time.monotonic() - killed_at
    wait_for(lambda: ready(stack), 60, "/readyz 200 after the failover")
    assert all(set(nodes) <= set(survivors) for nodes in after.values()), after
    assert service_pids(env) == pids and all(alive(pid) for pid in pids.values())

    def answered() -> bool:
        assert sender.error is None, f"sending failed after {sender.sent}: {sender.error!r}"
        return sender.sent == MAILS and count(env, "outbound") - outbound_before >= MAILS

    wait_for(answered, FLOW_TIMEOUT_S, f"{MAILS} auto-replies")
    flowed_s = time.monotonic() - started
    print(f"cluster: all answered after {flowed_s:.1f} s; failover took {failover_s:.1f} s")

    def drained() -> bool:
        busy = [q for q in cluster.quorum_queues(survivors[0]) if q["messages"]]
        return not busy and count(env, "support") == 0

    wait_for(drained, 120, "queues and the support mailbox drained")
    time.sleep(3)  # nothing arrives late

    items = [i for i in all_items(stack) if i["title"].startswith(f"Chaos {run} #")]
    per_title = Counter(i["title"] for i in items)
    replies_to: dict[str, list[str]] = defaultdict(list)
    for mail in headers(env, "outbound"):
        if mail["In-Reply-To"] in by_msgid:
            replies_to[mail["In-Reply-To"]].append(mail["Message-ID"])
    assert len(items) == MAILS and set(per_title.values()) == {1}, (
        f"{len(items)} items for {MAILS} mails; doubled:"
        f" {[t for t, n in per_title.items() if n > 1][:10]}"
    )
    unanswered = [m.subject for m in mails if not replies_to[m.message_id]]
    twice = {k: v for k, v in replies_to.items() if len(set(v)) > 1}
    # The node's death cancels the replier's handlers in flight (aiormq cancels a closed
    # channel's consumer tasks); their claimed sends finish shielded (delivery.py), so the
    # redeliveries find them sent: no second copy.
    copies = sum(len(v) - 1 for v in replies_to.values())
    assert not unanswered, f"{len(unanswered)} mails without an auto-reply: {unanswered[:10]}"
    assert not twice, f"{len(twice)} mails with two different auto-replies: {twice}"
    assert copies == 0, f"{copies} repeated copies of an auto-reply"
    assert stack.get("/v1/quarantine").json()["total"] == 0
    assert service_pids(env) == pids and all(alive(pid) for pid in pids.values())
    logs = {name: (env.state_dir / "log" / f"{name}.log").read_text() for name in SERVICES}
    moved = [name for name, text in logs.items() if "broker connection restored" in text]
    assert set(moved) >= {"fetcher", "converter", "replier"}, f"restored in the logs of {moved}"

    # the killed node comes back, rejoins and its replicas catch up with the leaders
    rejoin_at = time.monotonic()
    cluster.script("start-node", str(victim_node))
    names = [cluster.node_name(node) for node in NODES]
    assert cluster.running_nodes(victim_node) == sorted(names)
    victim_name = cluster.node_name(victim_node)

    def caught_up() -> bool:
        queues = cluster.quorum_queues(victim_node)
        if any(victim_name not in q["online"] for q in queues):  # type: ignore[operator]
            return False
        busy = ("converter.mail.received.v1", "replier.item.created.v1")
        return all(cluster.replica_lag(victim_node, q)[victim_name] == 0 for q in busy)

    wait_for(caught_up, CATCH_UP_TIMEOUT_S, f"node {victim_node}'s replicas to catch up")
    members = {len(q["members"]) for q in cluster.quorum_queues(victim_node)}  # type: ignore[arg-type]
    leaders = Counter(node_of(str(q["leader"])) for q in cluster.quorum_queues(victim_node))
    print(
        f"cluster: {MAILS} mails, {len(items)} items, {sum(map(len, replies_to.values()))}"
        f" auto-replies ({copies} repeated copies); node {victim_node} killed at"
        f" {replies_at_kill} answered, services on {after} {failover_s:.1f} s later; all"
        f" answered after {flowed_s:.1f} s; node back and caught up in"
        f" {time.monotonic() - rejoin_at:.1f} s; leaders now {dict(leaders)};"
        f" cluster start {cluster.start_s:.1f} s; test {time.monotonic() - started:.1f} s",
        flush=True,
    )
    assert members == {3}, f"quorum queues with other than 3 members: {members}"
