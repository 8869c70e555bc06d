"""Converter throughput and memory: parse + classify + map, store excluded (issue 3).

    make bench-converter            # or: .venv/bin/python bench/bench_converter.py [--n 5000]

Prints mails/s on one core for (a) generated ordinary mail (plain text, multipart/alternative
with HTML, one small attachment: the mix a support mailbox sees) and (b) the third-party test
corpus in tests/fixtures/mail, and the peak memory of parsing one near-25 MB mail as a multiple
of its size. Targets: >= 1,000 ordinary mails/s per core; peak < 4x the mail's size.
"""

import argparse
import gc
import random
import time
import tracemalloc
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

from postroom_converter.domain.classify import classify
from postroom_converter.domain.mapping import message_ref, new_item, thread_message
from postroom_converter.domain.parse import MAX_MAIL_BYTES, parse_mail
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="generated ordinary mails")
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
