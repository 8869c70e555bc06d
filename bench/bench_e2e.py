"""The whole pipeline on the real stack, mail in to item and auto-reply out (issue 15).

    make bench-e2e                  # N=2000 mails per run; N=500 for a quick look
    .venv/bin/python bench/bench_e2e.py --mails 2000 --trickle 50

Starts `deploy/local/run.sh --background` (RabbitMQ, Postfix, Dovecot and the four services on
the embedded SQLite store) on a port block of its own (POSTROOM_BENCH_PORT_BASE, default 23000
+ POSTROOM_TEST_PORT_OFFSET), then in one run:

1. idle: RSS of each service once it has settled;
2. three imports of a generated corpus (bench/e2e_corpus.py: 70 % plain, 15 % HTML, 10 % with a
   100 KB PDF, 5 % replies to earlier mails) waiting in an IMAP folder: the account is activated
   over the API and the clock runs until every mail was converted (and every new item's
   auto-reply went through Postfix): with one converter and auto-replies, with two converters
   and auto-replies, with one converter and no auto-replies. Per run: mails/s from activation,
   the delay from activation to the first converted mail, CPU ms per mail of every process tree
   (Postroom's services, RabbitMQ, Dovecot, Postfix; from /proc, so meaningful on a busy
   machine), broker messages per mail (RabbitMQ's own global counters), peak RSS per service;
3. a trickle of single mails, one at a time: mail -> item latency (p50/p99) for mail pushed over
   HTTP (`POST /v1/accounts/{id}/mail`) and for mail sent through Postfix into Dovecot and
   picked up over IMAP IDLE. The item's time is the converter's own timestamp of the thread
   message, so the bench's polling adds nothing.

It ends with one summary line. Progress is done by polling the SQLite file read-only (outside
every Postroom process). Rates are figures of this machine in this run, never a pass/fail.
The automatic-mail budget (POSTROOM_AUTOMAIL_MAX_PER_HOUR, 1,000 by default) is raised for the
bench stack, since one run sends 1,900 auto-replies; it is still checked on every send.
"""

import argparse
import os
import shutil
import signal
import smtplib
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from imapclient import IMAPClient

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.e2e_corpus import CorpusMail, corpus, single_mail  # noqa: E402
from bench.procstat import TreeSample, sample_tree  # noqa: E402
from tests.e2e.supervisor import rabbitmqctl  # noqa: E402
from tests.stack_env import PORT_OFFSET, StackEnv  # noqa: E402

SERVICES = ("fetcher", "converter", "replier", "api")
SERVERS = ("rabbitmq", "dovecot", "postfix")
USER = "bench"
ADDRESS = f"{USER}@example.test"


# --- the stack ---------------------------------------------------------------------------------


@dataclass
class Stack:
    env: StackEnv
    key: str
    extra: dict[str, str]
    converters: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.env.api_port}"

    @property
    def db(self) -> Path:
        return self.env.state_dir / "data" / "postroom.db"

    def call(self, method: str, path: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.key}", **kw.pop("headers", {})}
        answer = httpx.request(method, self.api + path, headers=headers, timeout=60, **kw)
        if answer.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {answer.status_code} {answer.text[:500]}")
        return answer.json() if answer.content else None

    def pid(self, name: str) -> int:
        for where in (self.env.state_dir / "pids", self.env.state_dir / "stack" / "pids"):
            if (where / name).exists():
                return int((where / name).read_text().strip())
        raise KeyError(name)

    def trees(self) -> dict[str, TreeSample]:
        found = {name: sample_tree(self.pid(name)) for name in (*SERVICES, *SERVERS)}
        for n, proc in enumerate(self.converters, start=2):
            found[f"converter{n}"] = sample_tree(proc.pid)
        return found

    def start_converter(self) -> None:
        """A second converter, started as run.sh started the first (its environment)."""
        raw = Path(f"/proc/{self.pid('converter')}/environ").read_bytes()
        environ = {
            k.decode(): v.decode()
            for k, v in (e.split(b"=", 1) for e in raw.split(b"\0") if b"=" in e)
        }
        environ["POSTROOM_METRICS_PORT"] = "0"  # the first one serves the port
        log = open(self.env.state_dir / "log" / "converter2.log", "ab")  # noqa: SIM115
        self.converters.append(
            subprocess.Popen(
                [str(REPO / ".venv/bin/postroom-converter")],
                env=environ,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )

    def stop_converters(self) -> None:
        for proc in self.converters:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        self.converters.clear()


def bench_env() -> StackEnv:
    base = int(os.environ.get("POSTROOM_BENCH_PORT_BASE", str(23000 + PORT_OFFSET)))
    state = Path(tempfile.gettempdir()) / f"pr-e2e-{base}"  # short: unix sockets live below
    return StackEnv(
        state_dir=state,
        base=base,
        node=f"rabbit-e2e{base}@localhost",
        users=f"support customer {USER}",
    )


def start(env: StackEnv, extra: dict[str, str]) -> Stack:
    shutil.rmtree(env.state_dir, ignore_errors=True)
    run = subprocess.run(
        [str(REPO / "deploy/local/run.sh"), "--background"],
        env=env.environ(**extra),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if run.returncode != 0:
        sys.exit(f"run.sh --background failed:\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    line = next(x for x in run.stdout.splitlines() if "Admin API key" in x)
    return Stack(env=env, key=line.split("Admin API key", 1)[1].split()[0], extra=extra)


def stop(stack: Stack) -> None:
    stack.stop_converters()
    subprocess.run(
        [str(REPO / "deploy/local/run.sh"), "--stop"],
        env=stack.env.environ(**stack.extra),
        capture_output=True,
        timeout=300,
        check=False,
    )
    shutil.rmtree(stack.env.state_dir, ignore_errors=True)


# --- reading progress --------------------------------------------------------------------------


def query(stack: Stack, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(f"file:{stack.db}?mode=ro", uri=True, timeout=10) as db:
        return db.execute(sql, args).fetchall()


def converted(stack: Stack, account_id: str) -> tuple[int, int, str | None]:
    """(mails the converter finished, items it created, time of its first entry)."""
    rows = query(
        stack,
        "SELECT count(*), sum(id LIKE '%:converter:created'), min(at) FROM processing_log"
        " WHERE account_id = ? AND id LIKE '%:converter:%'",
        account_id,
    )
    count, created, first = rows[0]
    return int(count), int(created or 0), first


def auto_replies_done(stack: Stack, account_id: str) -> int:
    rows = query(
        stack,
        "SELECT count(*) FROM ledger WHERE reason LIKE 'auto_reply:%'"
        " AND json_extract(doc, '$.state') IN ('sent', 'failed')"
        " AND item_id IN (SELECT id FROM items WHERE json_extract(doc, '$.account_id') = ?)",
        account_id,
    )
    return int(rows[0][0])


def wait(probe: Callable[[], bool], timeout_s: float, what: str, step_s: float = 0.1) -> None:
    end = time.monotonic() + timeout_s
    while not probe():
        if time.monotonic() > end:
            raise TimeoutError(f"{what}: not after {timeout_s:.0f} s")
        time.sleep(step_s)


def broker_counters(stack: Stack) -> dict[str, int]:
    """RabbitMQ's global counters (messages received from publishers, delivered to consumers),
    summed over protocols and queue types; empty when the node cannot say."""
    try:
        out = rabbitmqctl(stack.env, "eval", "rabbit_global_counters:overview().", timeout_s=60)
    except Exception as exc:  # an older RabbitMQ without the module: the figure is left out
        print(f"  (broker counters unavailable: {exc!r:.200})")
        return {}
    totals: dict[str, int] = {}
    for name in ("messages_received_total", "messages_delivered_total", "messages_routed_total"):
        totals[name] = sum(
            int(chunk.split("=>", 1)[1].strip(" ,}\n").split(",")[0].split("}")[0])
            for chunk in out.split(name)[1:]
            if "=>" in chunk[:8]
        )
    return totals


# --- one import --------------------------------------------------------------------------------


@dataclass
class RunResult:
    name: str
    mails: int
    items: int
    seconds: float
    start_delay_s: float
    cpu_ms: dict[str, float]
    peak_mb: dict[str, float]
    broker_per_mail: float | None

    @property
    def rate(self) -> float:
        return self.mails / self.seconds

    @property
    def postroom_ms(self) -> float:
        return sum(v for k, v in self.cpu_ms.items() if k.startswith(SERVICES))


def fill(stack: Stack, folder: str, mails: list[CorpusMail]) -> float:
    started = time.perf_counter()
    with IMAPClient("127.0.0.1", port=stack.env.imap_port, ssl=False, timeout=60) as client:
        client.login(ADDRESS, USER)
        client.create_folder(folder)
        for at in range(0, len(mails), 100):  # in order: replies come after what they answer
            client.multiappend(folder, [m.raw for m in mails[at : at + 100]])
    return time.perf_counter() - started


def new_account(stack: Stack, name: str, *, replies: bool, **more: Any) -> str:
    body: dict[str, Any] = {
        "name": name,
        "address": ADDRESS,
        "project": "Bench",
        "auto_reply": {"enabled": replies},
        **more,
    }
    return str(stack.call("POST", "/v1/accounts", json=body)["id"])


def mailbox(stack: Stack, folder: str) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": stack.env.imap_port,
        "security": "none",
        "username": ADDRESS,
        "password": USER,
        "folder": folder,
    }


def import_run(stack: Stack, n: int, mails: int, converters: int, replies: bool) -> RunResult:
    name = f"{converters} converter{'s' if converters > 1 else ''}, " + (
        "auto-replies" if replies else "no auto-replies"
    )
    run = f"r{n}{os.urandom(2).hex()}"
    batch = corpus(run, mails, ADDRESS)
    fill_s = fill(stack, run, batch)
    account = new_account(stack, f"Bench {run}", replies=replies, mailbox=mailbox(stack, run))
    for _ in range(converters - 1):
        stack.start_converter()
    time.sleep(5 if converters > 1 else 1)  # the new converter connects and subscribes
    print(f"run {n} ({name}): {mails} mails in folder {run} (APPEND {fill_s:.1f} s)", flush=True)
    before, counters = stack.trees(), broker_counters(stack)
    t0 = time.time()
    stack.call("PATCH", f"/v1/accounts/{account}", json={"active": True})

    def done() -> bool:
        count, created, _ = converted(stack, account)
        return count >= mails and (not replies or auto_replies_done(stack, account) >= created)

    wait(done, 1800, f"run {n}")
    seconds = time.time() - t0
    after, counters_after = stack.trees(), broker_counters(stack)
    count, created, first = converted(stack, account)
    stack.call("PATCH", f"/v1/accounts/{account}", json={"active": False})
    stack.stop_converters()
    first_s = datetime.fromisoformat(first).timestamp() - t0 if first else float("nan")
    cpu = {k: (after[k].cpu_s - before[k].cpu_s) * 1000 / mails for k in after if k in before}
    peak = {k: v.hwm_mb for k, v in after.items()}
    received = counters_after.get("messages_received_total", 0) - counters.get(
        "messages_received_total", 0
    )
    delivered = counters_after.get("messages_delivered_total", 0) - counters.get(
        "messages_delivered_total", 0
    )
    per_mail = (received + delivered) / mails if counters else None
    result = RunResult(name, count, created, seconds, first_s, cpu, peak, per_mail)
    print(
        f"  {result.rate:.0f} mails/s ({seconds:.1f} s from activation, first mail converted"
        f" {first_s:.2f} s after it), {created} items; Postroom CPU {result.postroom_ms:.2f}"
        f" ms/mail",
        flush=True,
    )
    return result


# --- the trickle -------------------------------------------------------------------------------


def item_time(stack: Stack, account_id: str, message_id: str) -> float | None:
    rows = query(
        stack,
        "SELECT created_at FROM messages WHERE account_id = ? AND message_id IN (?, ?)",
        account_id,
        message_id,
        message_id.strip("<>"),
    )
    return datetime.fromisoformat(rows[0][0]).timestamp() if rows else None


def trickle(stack: Stack, how: str, count: int) -> list[float]:
    """mail -> item seconds for `count` single mails, one after the other."""
    run = f"t{how[:4]}{os.urandom(2).hex()}"
    if how == "push":
        account = new_account(stack, f"Push {run}", replies=True, provider="push", active=True)
    else:
        account = new_account(
            stack, f"Idle {run}", replies=True, mailbox=mailbox(stack, "INBOX"), active=True
        )
        time.sleep(3)  # the fetcher picks the account up and enters IDLE
    latencies = []
    for n in range(count):
        mail = single_mail(run, n, ADDRESS)
        sent = time.time()
        if how == "push":
            stack.call(
                "POST",
                f"/v1/accounts/{account}/mail",
                content=mail.raw,
                headers={"Content-Type": "message/rfc822"},
            )
        else:
            with smtplib.SMTP("127.0.0.1", stack.env.smtp_port, timeout=30) as smtp:
                smtp.sendmail(f"t{n}@{run}.customers.test", [ADDRESS], mail.raw)
        end = time.monotonic() + 60
        while (at := item_time(stack, account, mail.message_id)) is None:
            if time.monotonic() > end:
                raise TimeoutError(f"trickle {how}: mail {n} not an item after 60 s")
            time.sleep(0.002)
        latencies.append(at - sent)
        time.sleep(0.2)
    stack.call("PATCH", f"/v1/accounts/{account}", json={"active": False})
    return latencies


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --- report ------------------------------------------------------------------------------------


def report(idle: dict[str, TreeSample], runs: list[RunResult], lat: dict[str, list[float]]) -> None:
    print("\nidle RSS (MB, each service with its worker processes):")
    print("  " + "  ".join(f"{k} {idle[k].rss_mb:.0f}" for k in SERVICES))
    names = sorted({k for r in runs for k in r.cpu_ms}, key=lambda k: (k not in SERVICES, k))
    print("\nCPU ms per mail (process tree, from /proc):")
    print(f"  {'':34}" + "".join(f"{k[:10]:>11}" for k in names) + f"{'Postroom':>11}")
    for r in runs:
        row = "".join(f"{r.cpu_ms.get(k, 0):11.2f}" for k in names)
        print(f"  {r.name:34}{row}{r.postroom_ms:11.2f}")
    print("\npeak RSS (MB):")
    for r in runs:
        print(f"  {r.name:34}" + "  ".join(f"{k} {r.peak_mb[k]:.0f}" for k in SERVICES))
    print("\nbroker messages per mail (published + delivered, RabbitMQ's counters):")
    for r in runs:
        shown = f"{r.broker_per_mail:.1f}" if r.broker_per_mail is not None else "n/a"
        print(f"  {r.name:34}{shown}")
    for how, values in lat.items():
        print(
            f"\ntrickle {how}: {len(values)} mails, mail -> item p50 {pct(values, 50):.3f} s,"
            f" p99 {pct(values, 99):.3f} s, max {max(values):.3f} s"
        )
    by_name = {r.name: r for r in runs}
    one = by_name.get("1 converter, auto-replies")
    two = by_name.get("2 converters, auto-replies")
    bare = by_name.get("1 converter, no auto-replies")
    parts = []
    if one:
        parts.append(
            f"{one.rate:.0f} mails/s with auto-replies, {one.postroom_ms:.2f} ms Postroom CPU/mail,"
            f" start {one.start_delay_s:.2f} s"
        )
    if two and one:
        parts.append(f"2 converters {two.rate:.0f} mails/s (x{two.rate / one.rate:.2f})")
    if bare:
        parts.append(f"no auto-replies {bare.rate:.0f} mails/s")
    for how, values in lat.items():
        parts.append(f"{how} p50/p99 {pct(values, 50):.3f}/{pct(values, 99):.3f} s")
    parts.append(f"idle RSS max {max(idle[k].rss_mb for k in SERVICES):.0f} MB")
    print("\nbench-e2e: " + "; ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=int(os.environ.get("N", "2000")))
    parser.add_argument("--trickle", type=int, default=50, help="single mails per way in")
    parser.add_argument(
        "--runs", default="1,2,0", help="imports to do: converters per run, 0 = 1 without replies"
    )
    args = parser.parse_args()
    extra = {"POSTROOM_AUTOMAIL_MAX_PER_HOUR": "1000000"}
    print(f"starting the stack (run.sh --background) in {bench_env().state_dir}", flush=True)
    stack = start(bench_env(), extra)
    try:
        time.sleep(10)  # let start-up work finish before reading idle memory
        idle = stack.trees()
        runs = []
        for n, spec in enumerate(args.runs.split(","), start=1):
            converters = int(spec)
            runs.append(import_run(stack, n, args.mails, max(1, converters), converters > 0))
        lat = {}
        if args.trickle:
            for how in ("push", "idle"):
                lat[how] = trickle(stack, how, args.trickle)
                print(f"trickle {how}: p50 {pct(lat[how], 50):.3f} s", flush=True)
        report(idle, runs, lat)
    finally:
        stop(stack)


if __name__ == "__main__":
    main()
