"""The floor: what the chosen libraries cost per mail before any line of Postroom runs (issue 15).

    .venv/bin/python bench/bench_floor.py [--n 4000]

Issue 15 asks for at most 1.5 ms of Postroom CPU per mail end to end. This measures, on the real
servers of `deploy/local/stack.sh` (RabbitMQ, Dovecot, Postfix; bench/servers.py: a port block
of its own, POSTROOM_BENCH_PORT_BASE, default 20000 + POSTROOM_TEST_PORT_OFFSET), the CPU this
process spends per operation that any implementation of the pipeline with the libraries the
architecture fixes must do per mail, each in the cheapest way those libraries offer, with no
Postroom code in the loop:

- IMAP: imapclient fetching the bench corpus (bench/e2e_corpus.py) in batches of 100, as the
  fetcher does;
- a persistent, mandatory publish awaited for its publisher confirm, 32 in flight: through
  FastStream's RabbitBroker and through aio-pika directly;
- a delivery consumed and acked (prefetch 32): through aio-pika directly and through a FastStream
  subscriber;
- parse + classify + map of the same corpus (the converter's domain functions, in-process);
- SQLite: the rows a mail needs at least (raw mail, item, thread entry, outbox event, reply
  ledger), ten mails per transaction, WAL;
- SMTP: aiosmtplib sending a 1 KB auto-reply to Postfix over one open session.

CPU is `time.process_time()` of this one process around each loop (the event loop and aiormq's
reader included, as in a service). It prints each figure and the sum for the fewest broker
messages the flow can have (mail.received, item.created and reply.sent published; the first two
consumed) and for the 6.9 per mail measured by `make bench-e2e`. Figures of this machine in this
run, never a pass/fail.
"""

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aio_pika  # noqa: E402
import aiosmtplib  # noqa: E402
from faststream import AckPolicy  # noqa: E402
from faststream.rabbit import RabbitBroker, RabbitMessage, RabbitQueue  # noqa: E402
from faststream.rabbit.schemas import Channel  # noqa: E402
from imapclient import IMAPClient  # noqa: E402

from bench.bench_converter import convert  # noqa: E402
from bench.e2e_corpus import corpus  # noqa: E402
from bench.servers import servers  # noqa: E402
from tests.stack_env import StackEnv  # noqa: E402

USER = "floor"
IN_FLIGHT = 32
BODY = b'{"event": "' + b"x" * 1200 + b'"}'


def cpu_us(n: int, started: float) -> float:
    return (time.process_time() - started) * 1e6 / n


async def in_flight(n: int, one: Callable[[], Awaitable[object]]) -> None:
    """`n` calls of `one`, IN_FLIGHT at a time, as a service's concurrent handlers make them."""
    for start in range(0, n, IN_FLIGHT):
        await asyncio.gather(*(one() for _ in range(min(IN_FLIGHT, n - start))))


async def broker_figures(url: str, n: int) -> dict[str, float]:
    out: dict[str, float] = {}
    queue = f"floor.{uuid.uuid4().hex[:6]}"

    connection = await aio_pika.connect_robust(url)
    channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
    await channel.set_qos(prefetch_count=IN_FLIGHT)
    declared = await channel.declare_queue(queue, durable=True)

    def raw_publish() -> Awaitable[object]:
        message = aio_pika.Message(BODY, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
        return channel.default_exchange.publish(message, routing_key=queue, mandatory=True)

    await in_flight(200, raw_publish)  # warm-up
    started = time.process_time()
    await in_flight(n, raw_publish)
    out["publish + confirm, aio-pika"] = cpu_us(n, started)

    broker = RabbitBroker(
        url,
        default_channel=Channel(
            prefetch_count=IN_FLIGHT, publisher_confirms=True, on_return_raises=True
        ),
        logger=None,
        apply_types=False,
    )
    await broker.connect()

    def fs_publish() -> Awaitable[object]:
        return broker.publish(BODY, queue=queue, persist=True, mandatory=True)

    await in_flight(200, fs_publish)
    started = time.process_time()
    await in_flight(n, fs_publish)
    out["publish + confirm, FastStream"] = cpu_us(n, started)

    # the queue now holds 2n + 400 messages: half consumed raw, the rest through FastStream
    raw_n = n + 200
    got = 0
    done = asyncio.Event()

    async def on_raw(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        nonlocal got
        if got == raw_n:  # left unacked: it goes back to the queue when the channel closes
            return
        got += 1  # before the await: callbacks run side by side
        if got == raw_n:
            done.set()
        await message.ack()

    started = time.process_time()
    tag = await declared.consume(on_raw)
    await done.wait()
    await asyncio.sleep(0.05)  # the last acks leave
    out["delivery + ack, aio-pika"] = cpu_us(raw_n, started)
    await declared.cancel(tag)
    await connection.close()

    left = n + 200  # what the raw consumer left (its unacked prefetch went back on close)
    await broker.stop()
    fs_got = 0
    fs_done = asyncio.Event()
    consumer = RabbitBroker(
        url, default_channel=Channel(prefetch_count=IN_FLIGHT), logger=None, apply_types=False
    )

    @consumer.subscriber(RabbitQueue(queue, durable=True), ack_policy=AckPolicy.ACK)
    async def on_fs(message: RabbitMessage) -> None:
        nonlocal fs_got
        fs_got += 1
        if fs_got == left:
            fs_done.set()

    started = time.process_time()
    await consumer.start()
    await asyncio.wait_for(fs_done.wait(), 120)
    out["delivery + ack, FastStream"] = cpu_us(left, started)
    await consumer.stop()
    return out


def imap_figure(env: StackEnv, mails: list[bytes]) -> float:
    folder = f"floor{uuid.uuid4().hex[:6]}"
    with IMAPClient("127.0.0.1", port=env.imap_port, ssl=False) as client:
        client.login(f"{USER}@example.test", USER)
        client.create_folder(folder)
        for start in range(0, len(mails), 200):
            client.multiappend(folder, mails[start : start + 200])
        client.select_folder(folder)
        uids = client.search(["ALL"])
        started = time.process_time()
        for start in range(0, len(uids), 100):
            client.fetch(uids[start : start + 100], ["BODY.PEEK[]", "RFC822.SIZE"])
        return cpu_us(len(uids), started)


def store_figure(mails: list[bytes], where: Path) -> float:
    db = sqlite3.connect(where / "floor.db", isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    for table in ("blobs", "items", "messages", "outbox", "ledger"):
        db.execute(f"CREATE TABLE {table} (id TEXT PRIMARY KEY, body BLOB)")
    started = time.process_time()
    for start in range(0, len(mails), 10):
        db.execute("BEGIN")
        for n, raw in enumerate(mails[start : start + 10], start=start):
            db.execute("INSERT INTO blobs VALUES (?, ?)", (f"b{n}", raw))
            for table in ("items", "messages", "outbox", "ledger"):
                sql = f"INSERT INTO {table} VALUES (?, ?)"  # noqa: S608 (constant names)
                db.execute(sql, (f"{table}{n}", BODY))
        db.execute("COMMIT")
    figure = cpu_us(len(mails), started)
    db.close()
    return figure


async def smtp_figure(env: StackEnv, n: int) -> float:
    reply = (
        f"From: support@example.test\r\nTo: {USER}@example.test\r\nSubject: Re: your mail\r\n"
        "Message-ID: <{n}@floor.test>\r\nAuto-Submitted: auto-replied\r\n\r\n"
    ).encode() + b"We have your mail and will answer soon.\r\n" * 25
    smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=env.smtp_port, start_tls=False)
    await smtp.connect()
    try:
        await smtp.sendmail("support@example.test", [f"{USER}@example.test"], reply)
        started = time.process_time()
        for _ in range(n):
            await smtp.sendmail("support@example.test", [f"{USER}@example.test"], reply)
        return cpu_us(n, started)
    finally:
        await smtp.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=4000, help="messages per broker figure")
    parser.add_argument("--mails", type=int, default=2000, help="corpus mails (IMAP, parse, SQL)")
    args = parser.parse_args()
    with servers("floor", users=USER, default_base=20000) as env:
        mails = [m.raw for m in corpus("floor", args.mails, f"{USER}@example.test")]
        figures: dict[str, float] = {}
        figures["IMAP fetch, batches of 100"] = imap_figure(env, mails)
        figures.update(asyncio.run(broker_figures(env.amqp_url, args.n)))
        started = time.process_time()
        for raw in mails:
            convert(raw)
        figures["parse + classify + map"] = cpu_us(len(mails), started)
        with tempfile.TemporaryDirectory() as where:
            figures["SQLite, 5 rows per mail, 10 mails per transaction"] = store_figure(
                mails, Path(where)
            )
        figures["SMTP send, one open session"] = asyncio.run(smtp_figure(env, min(args.n, 1000)))

    print(f"\nCPU µs per operation ({args.mails} corpus mails, {args.n} broker messages):")
    for name, value in figures.items():
        print(f"  {name:52}{value:8.0f}")
    publish = min(figures["publish + confirm, aio-pika"], figures["publish + confirm, FastStream"])
    deliver = min(figures["delivery + ack, aio-pika"], figures["delivery + ack, FastStream"])
    fixed = (
        figures["IMAP fetch, batches of 100"]
        + figures["parse + classify + map"]
        + figures["SQLite, 5 rows per mail, 10 mails per transaction"]
        + figures["SMTP send, one open session"]
    )
    fewest = fixed + 3 * publish + 2 * deliver
    today = fixed + 3.45 * publish + 3.45 * deliver
    print(
        f"\nbench-floor: {fewest / 1000:.2f} ms CPU per mail with the fewest broker messages"
        f" (3 published, 2 delivered), {today / 1000:.2f} ms with today's 6.9;"
        f" libraries' cheapest ways, no Postroom code"
    )


if __name__ == "__main__":
    main()
