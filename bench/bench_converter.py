"""Converter throughput and memory: parse + classify + map, store excluded (issue 3).

    make bench-converter            # or: .venv/bin/python bench/bench_converter.py [--n 5000]
    .venv/bin/python bench/bench_converter.py --pathological

Prints mails/s on one core for (a) generated ordinary mail (plain text, multipart/alternative
with HTML, one small attachment: the mix a support mailbox sees) and (b) the third-party test
corpus in tests/fixtures/mail, the peak memory of parsing one near-25 MB mail as a multiple
of its size, and what handing each mail to an analysis worker process (the per-mail time budget,
issue 10) adds per mail. Targets: >= 1,000 ordinary mails/s per core; peak < 4x the mail's size.

`--pathological` times the hostile mails of issue 10 at growing sizes (each size at most
~20 s); with PYTHONPATH pointing at an older checkout it shows that checkout's growth.
"""

import argparse
import asyncio
import gc
import random
import time
import tracemalloc
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

from postroom_converter.domain.bounce import parse_bounce
from postroom_converter.domain.classify import classify
from postroom_converter.domain.mapping import message_ref, new_item, thread_message
from postroom_converter.domain.parse import MAX_MAIL_BYTES, parse_mail
from postroom_converter.domain.returned import returned_message_ids
from postroom_shared.errors import PermanentError
from postroom_shared.models import EmailAccount, MailboxSettings

REPO = Path(__file__).resolve().parent.parent
ACCOUNT = EmailAccount(
    id="acc_bench",
    name="Bench",
    address="support@example.test",
    project="Support",
    mailbox=MailboxSettings(host="h", port=993, username="support@example.test"),
)
WORDS = (
    "printer",
    "invoice",
    "login",
    "error",
    "please",
    "urgent",
    "server",
    "thanks",
    "the",
    "is",
    "not",
    "working",
    "since",
    "monday",
    "again",
    "help",
    "account",
    "password",
)


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def ordinary_mails(n: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    mails = []
    for i in range(n):
        msg = EmailMessage()
        msg["From"] = f"Customer {i} <customer{i}@example.org>"
        msg["To"] = "support@example.test"
        msg["Subject"] = ("Re: " if i % 3 == 0 else "") + _text(rng, 5)
        msg["Message-ID"] = f"<bench-{i}@example.org>"
        msg["Date"] = "Tue, 24 Nov 2026 10:00:00 +0000"
        if i % 3 == 0:
            msg["In-Reply-To"] = f"<bench-{i - 1}@example.org>"
        body = _text(rng, rng.randint(30, 300))
        msg.set_content(body + "\n\n-- \nCustomer\n")
        if i % 2 == 0:
            msg.add_alternative(f"<html><body><p>{body}</p></body></html>", subtype="html")
        if i % 5 == 0:
            msg.add_attachment(
                rng.randbytes(20_000),
                maintype="application",
                subtype="pdf",
                filename=f"report-{i}.pdf",
            )
        mails.append(msg.as_bytes())
    return mails


def corpus_mails() -> list[bytes]:
    root = REPO / "tests" / "fixtures" / "mail"
    return [
        p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and p.suffix != ".md"
        and p.suffix != ".json"
        and p.stat().st_size < MAX_MAIL_BYTES
    ]


def convert(raw: bytes) -> None:
    """What the converter does per mail, minus the store and broker."""
    try:
        mail = parse_mail(raw)
    except PermanentError:
        return
    kind = classify(mail, is_our_message_id=lambda _: False, loop_header="x-postroom-loop")
    item = new_item(ACCOUNT, mail, number=1, mail_key="acc_bench/INBOX/1/1")
    thread_message(
        item_id=item.id, account=ACCOUNT, mail=mail, mail_key="k", kind=kind.kind, blob_ref=None
    )
    message_ref(mail, "k", kind)


def rate(mails: list[bytes], fn: Callable[[bytes], None]) -> tuple[float, float]:
    gc.collect()
    start = time.process_time()
    for raw in mails:
        fn(raw)
    cpu = time.process_time() - start
    return len(mails) / cpu, cpu


def peak_ratio() -> tuple[int, int, float]:
    msg = EmailMessage()
    msg["From"] = "big@example.org"
    msg["To"] = "support@example.test"
    msg["Subject"] = "big attachment"
    msg.set_content("see attachment")
    # base64 grows 4/3: this attachment makes a mail just under the 25 MB cap
    msg.add_attachment(
        random.Random(1).randbytes(int(MAX_MAIL_BYTES * 0.72)),
        maintype="application",
        subtype="octet-stream",
        filename="big.bin",
    )
    raw = msg.as_bytes()
    del msg
    gc.collect()
    tracemalloc.start()
    convert(raw)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return len(raw), peak, peak / len(raw)


def hop_overhead(mails: list[bytes]) -> tuple[float, float, float]:
    """µs per mail: wall clock analysed in this process; wall clock sent to one worker and
    back; and this process's CPU for the latter (what the service's event loop spends)."""
    # imported here: `--pathological` must also run on checkouts that do not have them
    from postroom_converter.analysis import analyse
    from postroom_converter.budget import Analyser

    async def via_worker() -> tuple[float, float]:
        analyser = Analyser(None, budget_s=60, workers=1)
        try:
            await analyser.analyse(mails[0])  # the worker starts
            start, cpu = time.perf_counter(), time.process_time()
            for raw in mails:
                await analyser.analyse(raw, attachment_data=False)
            return time.perf_counter() - start, time.process_time() - cpu
        finally:
            analyser.close()

    start = time.perf_counter()
    for raw in mails:
        analyse(raw, signer=None, attachment_data=False)
    inline = time.perf_counter() - start
    hop, cpu = asyncio.run(via_worker())
    per_mail = 1e6 / len(mails)
    return inline * per_mail, hop * per_mail, cpu * per_mail


def _hostile(body: str, subject: str = "Undeliverable: Printer") -> bytes:
    head = (
        "From: MAILER-DAEMON@mx.example.org\r\nTo: support@example.test\r\n"
        f"Subject: {subject}\r\nIn-Reply-To: <pr.it_1.n1.aaaaaaaaaaaaaaaa@example.test>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    )
    return (head + body).encode()


PATHOLOGICAL: dict[str, tuple[Callable[[int], bytes], tuple[int, ...]]] = {
    # 1.7 KB took 22 s: a line of dashes before the bounce reader's "original message" pattern
    "bounce, line of N dashes": (
        lambda n: _hostile("Delivery failed:\n\n  bob@example.org\n\n" + "-" * n + "\n"),
        (250, 500, 1_000, 2_000, 4_000),
    ),
    # 20k spaces took 34 s: the bounce reader's not-a-recipient line pattern
    "bounce, line of N spaces": (
        lambda n: _hostile("failed:\n" + " " * n + "x\nbob@example.org 5.1.1\n"),
        (5_000, 10_000, 20_000, 40_000),
    ),
    # 30 KB took 23 s: MTA boilerplate after a run of '-', '=', '*' or spaces
    "MTA boilerplate, N dashes": (
        lambda n: _hostile("-" * n + "x\n", subject="Re: Printer"),
        (7_500, 15_000, 30_000, 60_000),
    ),
    # 100 KB took 50 s in `postroom parse`: the reply text's quote header and signature
    "reply text, 'on a wrote' + N spaces": (
        lambda n: _hostile("Thanks!\non a wrote" + " " * n + "x\n", subject="Re: Printer"),
        (12_500, 25_000, 50_000, 100_000),
    ),
    "reply text, '--' + N tabs": (
        lambda n: _hostile("Thanks!\n--" + "\t" * n + "x\n", subject="Re: Printer"),
        (12_500, 25_000, 50_000, 100_000),
    ),
}


def analyse_inline(raw: bytes) -> None:
    """What the converter reads from one mail, with functions older checkouts have too."""
    mail = parse_mail(raw)
    kind = classify(mail, is_our_message_id=lambda _: False, loop_header="x-postroom-loop").kind
    if kind == "bounce":
        parse_bounce(mail.tree)
        returned_message_ids(mail.tree)


def pathological() -> None:
    for name, (build, sizes) in PATHOLOGICAL.items():
        cells = []
        for n in sizes:
            raw = build(n)
            start = time.perf_counter()
            analyse_inline(raw)
            took = time.perf_counter() - start
            cells.append(f"{n:>7,}: {took:8.3f} s")
            if took > 20:
                break
        print(f"{name:38} " + " | ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="generated ordinary mails")
    parser.add_argument("--pathological", action="store_true", help="issue 10 timings only")
    args = parser.parse_args()
    if args.pathological:
        pathological()
        return
    ordinary = ordinary_mails(args.n)
    corpus = corpus_mails()
    convert(ordinary[0])  # warm-up: imports, regex compilation
    o_rate, o_cpu = rate(ordinary, convert)
    c_rate, c_cpu = rate(corpus, convert)
    size, peak, ratio = peak_ratio()
    print(
        f"ordinary mail : {len(ordinary)} mails, {o_cpu:.2f} s CPU, {o_rate:,.0f} mails/s per core"
        f"  (target >= 1,000: {'met' if o_rate >= 1000 else 'MISSED'})"
    )
    print(f"test corpus   : {len(corpus)} mails, {c_cpu:.2f} s CPU, {c_rate:,.0f} mails/s per core")
    print(
        f"25 MB mail    : {size / 1e6:.1f} MB, peak traced memory {peak / 1e6:.1f} MB = "
        f"{ratio:.2f}x its size  (target < 4x: {'met' if ratio < 4 else 'MISSED'})"
    )
    inline_us, hop_us, cpu_us = hop_overhead(ordinary[:2000])
    print(
        f"worker hop    : {inline_us:,.0f} us/mail analysed here, {hop_us:,.0f} us/mail through"
        f" an analysis worker (+{hop_us - inline_us:,.0f} us wall clock, one mail at a time);"
        f" the caller's own CPU then: {cpu_us:,.0f} us/mail"
    )


if __name__ == "__main__":
    main()
