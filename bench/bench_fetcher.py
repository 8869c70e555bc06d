"""Fetcher throughput and APPEND-to-event delay, real Dovecot and RabbitMQ (issue 4).

    make bench-fetcher      # or: .venv/bin/python bench/bench_fetcher.py [--mails 5000]

Starts a stack through deploy/local/stack.sh on a port block of its own (base port from
POSTROOM_BENCH_PORT_BASE, default the test session's scheme: 20000 + POSTROOM_TEST_PORT_OFFSET),
or reuses the one already running in POSTROOM_BENCH_STATE_DIR. Then:

(a) throughput: fills a mailbox with generated mail (MULTIAPPEND over a few connections), runs
    the real `postroom-fetcher` process with the SQLite store, and reports mails/s downloaded
    and published with broker confirms, counted by a consumer of `mail.received.v1`, both from
    the process start and in steady state, and when the mailbox was empty again;
(b) delay: APPENDs single mails at intervals and reports p50/p99 of (event arrival - APPEND
    return) under IMAP IDLE when the fetcher implements it, otherwise in polling mode, and says
    which.

One run on this machine: rates to compare, never a pass/fail.
"""

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # the tests' helpers run and watch the fetcher the same way

from postroom_shared.ingest import imap_mail_key  # noqa: E402
from postroom_shared.store import Store, open_store  # noqa: E402
from tests.fetcher_proc import (  # noqa: E402
    MailTap,
    imap,
    mail_account,
    make_mail,
    start_fetcher,
    uids_in,
    wait_until,
)
from tests.stack_env import PORT_OFFSET, StackEnv  # noqa: E402

STACK_SH = REPO / "deploy/local/stack.sh"
FETCHER_SRC = REPO / "services/fetcher/src/postroom_fetcher"


def bench_stack() -> StackEnv:
    base = int(os.environ.get("POSTROOM_BENCH_PORT_BASE", str(20000 + PORT_OFFSET)))
    default = Path(tempfile.gettempdir()) / f"pr-bench-{base}"  # short: unix sockets live below
    state = Path(os.environ.get("POSTROOM_BENCH_STATE_DIR", str(default)))
    return StackEnv(state_dir=state, base=base, node=f"rabbit-bench{base}@localhost")


def stack_running(stack: StackEnv) -> bool:
    status = subprocess.run(
        [STACK_SH, "status"], env=stack.environ(), capture_output=True, check=False
    )
    return status.returncode == 0


def fetcher_has_idle() -> bool:
    """Does the fetcher's code use IMAP IDLE (imapclient's idle_check) yet?"""
    return any("idle_check(" in path.read_text() for path in FETCHER_SRC.rglob("*.py"))


def fill(stack: StackEnv, folder: str, count: int, connections: int, chunk: int = 250) -> float:
    """APPEND `count` generated mails to `folder`; returns the seconds it took."""
    with imap(stack) as client:
        client.create_folder(folder)
    tag = folder
    chunks = [
        [make_mail(n, size=1500, tag=tag) for n in range(start, min(start + chunk, count))]
        for start in range(0, count, chunk)
    ]
    lock = threading.Lock()

    def worker() -> None:
        with imap(stack) as client:
            while True:
                with lock:
                    if not chunks:
                        return
                    mails = chunks.pop()
                client.multiappend(folder, mails)

    started = time.perf_counter()
    with ThreadPoolExecutor(connections) as pool:
        for future in [pool.submit(worker) for _ in range(connections)]:
            future.result()
    return time.perf_counter() - started


async def throughput(stack: StackEnv, work: Path, mails: int, batch: int, conns: int) -> None:
    folder = f"bench{uuid.uuid4().hex[:6]}"
    fill_s = await asyncio.to_thread(fill, stack, folder, mails, conns)
    uidvalidity, uids = uids_in(stack, folder)
    print(f"filled {folder}: {len(uids)} mails in {fill_s:.1f} s ({len(uids) / fill_s:.0f}/s)")
    account = mail_account(stack, folder, poll_interval_s=1.0)
    keys = {imap_mail_key(account.id, folder, uidvalidity, uid) for uid in uids}
    store_url = f"sqlite:///{work / folder / 'postroom.db'}"
    store = await open_store(store_url)
    await store.put_account(account)
    async with MailTap(stack.amqp_url, account.id) as tap:
        started = time.time()
        fetcher = start_fetcher(stack, store_url, work / folder / "fetcher.log", batch=batch)
        try:
            await tap.wait_for_keys(keys, timeout_s=600)
            published = time.time()
            await _wait_drained(store, account.id, folder, uids[-1])
            drained = time.time()
        finally:
            fetcher.stop()
            await store.close()
    n = len(keys)
    tenth = tap.arrivals[n // 10]
    steady = (n - n // 10) / (tap.arrivals[-1] - tenth)
    print(f"(a) throughput, {n} mails of ~2 KB, fetch batch {batch}, SQLite store:")
    print(f"    published (confirmed): {n / (published - started):7.0f} mails/s from process start")
    print(f"                           {steady:7.0f} mails/s steady state (10th..100th percent)")
    print(f"    first event after {tap.arrivals[0] - started:.2f} s (process start-up)")
    print(f"    mailbox empty and checkpoint at the last UID after {drained - started:.1f} s")
    print(f"    re-published: {tap.republished}")


async def _wait_drained(store: Store, account_id: str, folder: str, last_uid: int) -> None:
    async def done() -> bool:
        checkpoint = await store.get_checkpoint(account_id, folder)
        return checkpoint is not None and checkpoint.last_uid == last_uid

    await wait_until(done, 600, "checkpoint at the last UID", step_s=0.05)


async def delay(stack: StackEnv, work: Path, count: int, interval_s: float, idle: bool) -> None:
    folder = f"lat{uuid.uuid4().hex[:6]}"
    with imap(stack) as client:
        client.create_folder(folder)
    # with IDLE the poll interval is only the safety net; without it, it is the delay
    account = mail_account(stack, folder, poll_interval_s=60.0 if idle else 1.0)
    account = account.model_copy(update={"use_idle": idle})
    store_url = f"sqlite:///{work / folder / 'postroom.db'}"
    store = await open_store(store_url)
    await store.put_account(account)
    await store.close()
    appended: dict[int, float] = {}
    async with MailTap(stack.amqp_url, account.id) as tap:
        fetcher = start_fetcher(stack, store_url, work / folder / "fetcher.log")
        try:
            await wait_until(lambda: _polled_once(fetcher.log_path), 60, "fetcher started")
            await asyncio.sleep(2.0)
            with imap(stack) as client:
                for n in range(count):
                    response = client.append(folder, make_mail(n, tag=folder))
                    appended[_appended_uid(response)] = time.time()
                    await asyncio.sleep(interval_s)
            await wait_until(lambda: len(tap.keys) >= count, 120, f"{count} events")
        finally:
            fetcher.stop()
    arrival: dict[int, float] = {}
    for event, at in zip(tap.events, tap.arrivals, strict=True):
        arrival.setdefault(event.uid or 0, at)
    delays = sorted(arrival[uid] - appended[uid] for uid in arrival)
    p50 = statistics.median(delays)
    p99 = delays[min(len(delays) - 1, round(0.99 * (len(delays) - 1)))]
    mode = "IMAP IDLE" if idle else "polling, 1 s poll interval (IDLE not in the fetcher yet)"
    print(f"(b) APPEND -> mail.received.v1 delay, {count} single mails {interval_s} s apart:")
    print(f"    mode: {mode}")
    print(f"    p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms")
    if idle and p50 > 5:
        print("    NOTE: delays follow the 60 s safety poll: IDLE did not wake the fetcher")
    if idle:
        floor = await asyncio.to_thread(idle_floor, stack)
        print(
            f"    server floor: a bare IDLE client sees the EXISTS after p50"
            f" {statistics.median(floor) * 1000:.0f} ms (Dovecot batches change notices)"
        )
        if interval_s < statistics.median(floor):
            print(
                "    (mails closer together than that often land during a running sync and are"
                " taken without waiting for a notice: hence a p50 below the floor)"
            )


def idle_floor(stack: StackEnv, count: int = 10) -> list[float]:
    """APPEND-to-EXISTS delays seen by a bare IDLE client: what the server itself adds."""
    folder = f"floor{uuid.uuid4().hex[:6]}"
    delays = []
    with imap(stack) as writer, imap(stack) as reader:
        writer.create_folder(folder)
        reader.select_folder(folder)
        for n in range(count):
            reader.idle()
            time.sleep(0.2)
            started = time.time()
            writer.append(folder, make_mail(n))
            reader.idle_check(timeout=10)
            delays.append(time.time() - started)
            reader.idle_done()
    return sorted(delays)


def _appended_uid(response: bytes) -> int:
    # b"[APPENDUID <uidvalidity> <uid>] Append completed." (UIDPLUS, which Dovecot has)
    return int(response.split(b"]", 1)[0].split()[-1])


def _polled_once(log_path: Path) -> bool:
    return log_path.exists() and "service started" in log_path.read_text(errors="replace")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=20, help="POSTROOM_FETCH_BATCH")
    parser.add_argument("--connections", type=int, default=4, help="parallel APPEND connections")
    parser.add_argument("--delay-mails", type=int, default=50)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between APPENDs")
    parser.add_argument("--mode", choices=["auto", "idle", "poll"], default="auto")
    args = parser.parse_args()

    stack = bench_stack()
    reuse = stack_running(stack)
    if not reuse:
        stack.state_dir.mkdir(parents=True, exist_ok=True)
        stack.state_dir.chmod(0o755)
        subprocess.run([STACK_SH, "start"], env=stack.environ(), check=True, capture_output=True)
    idle = fetcher_has_idle() if args.mode == "auto" else args.mode == "idle"
    work = Path(tempfile.mkdtemp(prefix="pr-bench-fetcher-"))
    print(
        f"bench_fetcher: {os.cpu_count()} cores (load {os.getloadavg()[0]:.1f} at start),"
        f" {platform.python_implementation()}"
        f" {platform.python_version()}, stack {'reused' if reuse else 'started'} at"
        f" {stack.state_dir} (IMAP {stack.imap_port}, AMQP {stack.amqp_port})"
    )
    try:
        asyncio.run(throughput(stack, work, args.mails, args.batch, args.connections))
        asyncio.run(delay(stack, work, args.delay_mails, args.interval, idle))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if not reuse:
            stop = [str(STACK_SH), "stop"]
            subprocess.run(stop, env=stack.environ(), check=False, capture_output=True)
            shutil.rmtree(stack.state_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
