"""Replicas of every service at once (issue 16): 2 fetchers, 3 converters and 2 repliers, as
separate processes on one store (SQLite, and MongoDB over the mongoeco wire server) and one
RabbitMQ vhost, over eight IMAP accounts on the stack's Dovecot, auto-replies on.

What customers send (tests/integration/replica_mail.py): originals, colleagues' answers right
behind them (threaded or a new item, whichever converter wins), three answers at once to each of
some auto-replies (three converters appending to one thread), later answers naming an original.
Midway through, the fetcher holding the most accounts is SIGKILLed: its leases are taken over by
the other fetcher, and the mail that was in flight arrives once. Afterwards:
- every mail is exactly one item or one thread message; answers are on their original's item;
- every item has exactly one auto-reply, counted where Postfix delivered it, recorded once on the
  item's thread, and no threaded mail got one;
- no item number is handed out twice (per item type, so also within a project);
- the folders are empty, nothing is quarantined, no queue (dead letters included) holds anything.
"""

import asyncio
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path

import pytest
from imapclient import IMAPClient

from bench.procstat import sample_tree
from postroom_converter.domain.mapping import item_id_for
from postroom_shared.mail.tokens import format_token
from postroom_shared.models import EmailAccount, Item, ThreadMessage
from postroom_shared.store import ItemQuery, Store, open_store
from tests.e2e.supervisor import queue_depths
from tests.integration.replica_mail import (
    Sent,
    bare,
    desk_account,
    follow_up,
    original,
    signed_reply,
)
from tests.service_procs import (
    ServiceProcess,
    own_vhost,
    service_environ,
    start_service,
)
from tests.stack_env import StackEnv

pytestmark = pytest.mark.stack

SECRET = "r" * 40
ACCOUNTS = 8
ORIGINALS = 24  # per account
RACY = 2  # per account: a colleague's answer right behind an original
SIGNED_ITEMS = 2  # per account: items whose auto-reply gets three answers at once
SIGNED_EACH = 3
BY_REFERENCE = 2  # per account
REPLICAS = {"fetcher": 2, "converter": 3, "replier": 2}
# A killed fetcher's leases free up within seconds (production default 30 s); small batches, so
# the kill is likely to fall between a publish and the delete that follows it.
SETTINGS = {
    "POSTROOM_LEASE_TTL_S": "3",
    "POSTROOM_LEASE_RENEW_S": "1",
    "POSTROOM_ACCOUNTS_REFRESH_S": "1",
    "POSTROOM_FETCH_BATCH": "5",
    "POSTROOM_HEARTBEAT_INTERVAL_S": "2",
    "POSTROOM_PARSE_WORKERS": "1",
    "POSTROOM_INSTANCE": "replicas",
}
FLOW_TIMEOUT_S = 150.0


@dataclass
class Replicas:
    stack: StackEnv
    store: Store
    store_url: str
    vhost: str
    broker_url: str
    log_dir: Path
    run: str
    accounts: list[EmailAccount]
    procs: dict[str, ServiceProcess] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    t0: float = field(default_factory=time.monotonic)

    def say(self, what: str) -> None:
        print(f"replicas +{time.monotonic() - self.t0:5.1f}s {what}", flush=True)

    def start(self) -> None:
        for service, count in REPLICAS.items():
            for n in range(1, count + 1):
                name = f"{service}-{n}"
                environ = service_environ(
                    self.stack, self.store_url, self.broker_url, SECRET,
                    POSTROOM_REPLICA_ID=name, **SETTINGS,
                )  # fmt: skip
                self.procs[name] = start_service(service, name, environ, self.log_dir)

    def cpu_s(self) -> dict[str, float]:
        """CPU seconds of each service's live replicas, worker processes included."""
        used: dict[str, float] = defaultdict(float)
        for name, proc in self.procs.items():
            if proc.alive():
                used[name.split("-")[0]] += sample_tree(proc.pid).cpu_s
        return used

    def logs(self) -> str:
        return "\n".join(proc.tail() for proc in self.procs.values())

    def append(self, mails: list[Sent]) -> None:
        """Into each account's folder, in the order given (an answer after what it answers)."""
        self.sent += mails
        by_account: dict[int, list[bytes]] = defaultdict(list)
        for mail in mails:
            by_account[mail.account].append(mail.raw)
        for i, raws in by_account.items():
            box = self.accounts[i].box
            with IMAPClient("127.0.0.1", port=self.stack.imap_port, ssl=False) as imap:
                imap.login(box.username, box.username.split("@")[0])
                imap.multiappend(box.folder, raws)

    async def items(self) -> list[Item]:
        found: list[Item] = []
        for project in ("Desk A", "Desk B"):
            found += await self.store.query_items(ItemQuery(project=project, limit=1000))
        return [item for item in found if item.account_id.startswith(f"acc_{self.run}_")]

    async def progress(self) -> str:
        items = await self.items()
        return (
            f"{len(self.sent)} mails sent, {len(items)} items holding"
            f" {sum(item.message_count for item in items)} messages,"
            f" {len(self.outbound())} answers delivered, holdings {dict(self.holdings())},"
            f" alive {[name for name, proc in self.procs.items() if proc.alive()]}"
        )

    async def wait(self, probe: Callable[[], Awaitable[bool]], what: str) -> None:
        end = time.monotonic() + FLOW_TIMEOUT_S
        while not await probe():
            if time.monotonic() > end:
                pytest.fail(
                    f"{what}: not after {FLOW_TIMEOUT_S} s; {await self.progress()}\n{self.logs()}"
                )
            await asyncio.sleep(0.5)
        self.say(what)

    def holdings(self) -> dict[str, set[str]]:
        """Fetcher replica -> accounts whose lease it took last, from the fetchers' logs."""
        holder: dict[str, tuple[str, str]] = {}
        for name, proc in self.procs.items():
            if name.startswith("fetcher"):
                for line in proc.log_lines():
                    account = str(line.get("account"))
                    if line.get("event") == "account taken" and (
                        account not in holder or holder[account][0] < line["ts"]
                    ):
                        holder[account] = (line["ts"], name)
        held: dict[str, set[str]] = defaultdict(set)
        for account, (_, name) in holder.items():
            held[name].add(account)
        return held

    def outbound(self) -> list[dict[str, str]]:
        """Message-ID, In-Reply-To and Subject of every delivered answer to this run's mail."""
        with IMAPClient("127.0.0.1", port=self.stack.imap_port, ssl=False) as imap:
            imap.login("outbound@example.test", "outbound")
            imap.select_folder("INBOX", readonly=True)
            uids = imap.search(["HEADER", "In-Reply-To", f".{self.run}@"])
            if not uids:
                return []
            fields = b"BODY[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO SUBJECT)]"
            found = []
            for data in imap.fetch(uids, [fields.replace(b"BODY", b"BODY.PEEK")]).values():
                headers = _headers(data[fields])
                found.append(headers)
            return found

    def folders_left(self) -> int:
        left = 0
        for account in self.accounts:
            box = account.box
            with IMAPClient("127.0.0.1", port=self.stack.imap_port, ssl=False) as imap:
                imap.login(box.username, box.username.split("@")[0])
                left += int(imap.folder_status(box.folder, [b"MESSAGES"])[b"MESSAGES"])
        return left


def _headers(block: bytes) -> dict[str, str]:
    parsed = BytesHeaderParser(policy=default_policy).parsebytes(block)
    return {name.lower(): str(value).strip() for name, value in parsed.items()}


@pytest.fixture
async def replicas(stack: StackEnv, store_url: str, tmp_path: Path) -> AsyncIterator[Replicas]:
    run = uuid.uuid4().hex[:6]
    accounts = [desk_account(stack, run, i, SECRET) for i in range(ACCOUNTS)]
    for user, some in (("alice", accounts[:4]), ("bob", accounts[4:])):
        with IMAPClient("127.0.0.1", port=stack.imap_port, ssl=False) as imap:
            imap.login(f"{user}@example.test", user)
            for account in some:
                imap.create_folder(account.box.folder)
    store = await open_store(store_url)
    for account in accounts:
        await store.put_account(account)
    with own_vhost(stack, "replicas") as (vhost, broker_url):
        test = Replicas(stack, store, store_url, vhost, broker_url, tmp_path / "log", run, accounts)
        try:
            yield test
        finally:
            for proc in test.procs.values():
                proc.stop(timeout_s=20)
            await store.close()


async def converted(test: Replicas) -> bool:
    """Every mail sent is on a thread and every item's auto-reply is recorded on it."""
    items = await test.items()
    return sum(item.message_count for item in items) >= len(test.sent) + len(items)


@pytest.mark.timeout(600)
async def test_replicas_of_every_service_lose_and_double_nothing(replicas: Replicas) -> None:
    test, run = replicas, replicas.run
    firsts = {
        (i, k): original(run, i, account, i * ORIGINALS + k)
        for i, account in enumerate(test.accounts)
        for k in range(ORIGINALS)
    }

    def wave(ks: range) -> list[Sent]:
        mails = []
        for i, account in enumerate(test.accounts):
            for k in ks:
                mails.append(firsts[i, k])
                if k == ks.start:  # a colleague answers at once: the same batch
                    mails.append(follow_up(run, firsts[i, k], account, "racy"))
        return mails

    # 1. every replica starts at once; then the first half arrives
    test.start()

    async def started() -> bool:
        return all(
            any(line.get("event") == "service started" for line in proc.log_lines())
            for proc in test.procs.values()
        )

    await test.wait(started, f"started {', '.join(test.procs)}")
    cpu_before = test.cpu_s()
    test.append(wave(range(ORIGINALS // 2)))

    async def fetchers_hold_all() -> bool:
        return sum(map(len, test.holdings().values())) == ACCOUNTS

    await test.wait(fetchers_hold_all, "every account's lease taken")
    test.say(f"leases: {dict(test.holdings())}")

    # 2. the second half arrives, and the fetcher holding the most accounts dies meanwhile
    test.append(wave(range(ORIGINALS // 2, ORIGINALS)))
    await asyncio.sleep(0.5)
    held = test.holdings()
    victim = max(held, key=lambda name: len(held[name]))
    survivor = next(name for name in test.procs if name.startswith("fetcher") and name != victim)
    test.procs[victim].kill()
    killed_at, kill_ts = time.monotonic(), datetime.now(UTC).isoformat(timespec="milliseconds")
    test.say(f"SIGKILL {victim}, holding {sorted(held[victim])}")

    async def taken_over() -> bool:
        return test.holdings().get(survivor, set()) >= held[victim]

    await test.wait(taken_over, f"{survivor} took over {victim}'s accounts")
    takeover_s = time.monotonic() - killed_at
    await test.wait(lambda: converted(test), "originals converted, auto-replies recorded")
    taken = sum(
        int(line["mails"])
        for line in test.procs[survivor].log_lines()
        if line.get("event") == "fetched"
        and line["account"] in held[victim]
        and line["ts"] > kill_ts
    )
    test.say(f"{survivor} fetched {taken} mails of {victim}'s accounts after the kill")

    # 3. answers: three at once to each of some auto-replies, and later mail naming an original
    answers = {bare(a["in-reply-to"]): a for a in test.outbound()}
    later = []
    for i, account in enumerate(test.accounts):
        for k in range(2, 2 + SIGNED_ITEMS):
            first = firsts[i, k]
            auto = answers[first.message_id]
            for n in range(SIGNED_EACH):
                later.append(
                    signed_reply(run, first, account, n, bare(auto["message-id"]), auto["subject"])
                )
        for k in range(2 + SIGNED_ITEMS, 2 + SIGNED_ITEMS + BY_REFERENCE):
            later.append(follow_up(run, firsts[i, k], account, "by_reference"))
    test.append(later)
    test.say(f"{len(later)} answers appended; {len(test.sent)} mails in all")
    await test.wait(lambda: converted(test), "answers converted")

    # 4. quiet: no queue holds anything, no more auto-replies trickle in
    async def quiet() -> bool:
        before = len(test.outbound())
        busy = {q: d for q, d in queue_depths(test.stack, test.vhost).items() if d.total}
        await asyncio.sleep(1.5)
        return not busy and len(test.outbound()) == before

    await test.wait(quiet, "queues empty, nothing more delivered")
    elapsed = time.monotonic() - test.t0
    cpu_after = test.cpu_s()
    test.say(
        "CPU ms per mail, all replicas together: "
        + ", ".join(
            f"{service} {(cpu_after[service] - cpu_before[service]) * 1000 / len(test.sent):.2f}"
            for service in ("converter", "replier")
        )
    )
    await check_outcome(test, takeover_s, elapsed)


async def check_outcome(test: Replicas, takeover_s: float, elapsed: float) -> None:
    items = await test.items()
    threads: dict[str, list[ThreadMessage]] = {
        item.id: await test.store.list_messages(item.id) for item in items
    }
    inbound = [m for thread in threads.values() for m in thread if m.direction == "in"]
    times = Counter(bare(m.message_id) for m in inbound)
    on_item = {bare(m.message_id): m.item_id for m in inbound}
    opened = {bare(m.message_id): m.item_id for m in inbound if item_id_for(m.key) == m.item_id}
    by_id = {mail.message_id: mail for mail in test.sent}
    first_of = {mail.n: mail.message_id for mail in test.sent if mail.kind == "original"}

    missing = [mid for mid in by_id if not times[mid]]
    doubled = {mid: n for mid, n in times.items() if n > 1}
    strangers = sorted(set(times) - set(by_id))
    assert not missing, f"{len(missing)} mails on no thread: {missing[:10]}"
    assert not doubled, f"mails on a thread more than once: {doubled}"
    assert not strangers, f"unknown mails on threads: {strangers[:10]}"
    assert len(opened) == len(items), "an item without the mail that opened it"
    assert all(first_of[n] in opened for n in first_of), "an original that opened no item"
    misthreaded = [
        mail.message_id
        for mail in test.sent
        if mail.kind in ("signed", "by_reference")
        or (mail.kind == "racy" and mail.message_id not in opened)
        if on_item[mail.message_id] != on_item[first_of[mail.n]]
    ]
    assert not misthreaded, f"answers not on their original's item: {misthreaded}"

    numbers = Counter((item.item_type, item.number) for item in items)
    reused = {key: n for key, n in numbers.items() if n > 1}
    assert not reused, f"item numbers handed out twice: {reused}"

    delivered: dict[str, list[dict[str, str]]] = defaultdict(list)
    for answer in test.outbound():
        delivered[bare(answer.get("in-reply-to", ""))].append(answer)
    item_by_id = {item.id: item for item in items}
    unanswered = [mid for mid in opened if not delivered[mid]]
    answered_twice = {
        mid: [a["message-id"] for a in got] for mid, got in delivered.items() if len(got) > 1
    }
    answered_threaded = sorted(set(delivered) - set(opened))
    tokens = {
        mid: format_token(item_by_id[item_id].item_type, item_by_id[item_id].number)
        for mid, item_id in opened.items()
    }
    wrong_token = [
        (tokens[mid], got[0]["subject"])
        for mid, got in delivered.items()
        if mid in tokens and tokens[mid] not in got[0]["subject"]
    ]
    assert not unanswered, f"{len(unanswered)} items without an auto-reply: {unanswered[:10]}"
    assert not answered_twice, f"items answered more than once: {answered_twice}"
    assert not answered_threaded, f"threaded mail answered: {answered_threaded}"
    assert not wrong_token, f"auto-replies naming another item: {wrong_token[:10]}"
    recorded = Counter(
        m.item_id for thread in threads.values() for m in thread if m.direction == "out"
    )
    assert all(recorded[item.id] == 1 for item in items), f"sent mail recorded: {recorded}"

    assert await test.store.count_quarantine() == 0, await test.store.list_quarantine()
    busy = {q: d for q, d in queue_depths(test.stack, test.vhost).items() if d.total}
    assert not busy, f"messages left in queues (DLQs included): {busy}"
    assert test.folders_left() == 0, "mail left in the accounts' folders"
    racy = [mail for mail in test.sent if mail.kind == "racy"]
    threaded = sum(mail.message_id not in opened for mail in racy)
    kinds = Counter(mail.kind for mail in test.sent)
    relayed = sum(
        int(line.get("count", 0))
        for name, proc in test.procs.items()
        if name.startswith("converter")
        for line in proc.log_lines()
        if line.get("event") == "outbox relayed leftover events"
    )
    test.say(
        f"{len(test.sent)} mails ({dict(kinds)}) -> {len(items)} items, {len(inbound)} inbound"
        f" thread messages, {sum(map(len, delivered.values()))} auto-replies; colleagues' answers"
        f" {threaded} threaded, {len(racy) - threaded} new items; {relayed} events relayed"
        f" from the outbox; takeover {takeover_s:.1f} s;"
        f" whole run {elapsed:.1f} s"
    )
