"""The generated corpus of `make bench-e2e` (issue 15's mix), deterministic for a seed.

70 % plain text, 15 % HTML with a plain alternative, 10 % with a 100 KB PDF attachment, 5 %
replies to an earlier mail of the same corpus (In-Reply-To/References its Message-ID, "Re:"
subject, same sender), so the converter threads them instead of opening items. Every other mail
comes from a sender of its own at a domain of its own: an auto-reply per new item then never
meets a per-recipient or per-domain rate limit or the loop breaker, which would turn the
benchmark into a test of those.
"""

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime

__all__ = ["CorpusMail", "corpus", "single_mail"]

PDF_BYTES = 100 * 1024
_WORDS = [
    "printer",
    "invoice",
    "login",
    "password",
    "order",
    "delivery",
    "refund",
    "account",
    "error",
    "screen",
    "report",
    "server",
    "access",
    "please",
    "help",
    "urgent",
    "since",
    "yesterday",
    "again",
    "broken",
    "cannot",
    "open",
    "the",
    "with",
]


@dataclass(frozen=True)
class CorpusMail:
    raw: bytes
    kind: str  # plain | html | pdf | reply
    message_id: str


def _text(rng: random.Random, words: int) -> str:
    lines = []
    for _ in range(max(1, words // 12)):
        lines.append(" ".join(rng.choice(_WORDS) for _ in range(12)).capitalize() + ".")
    return "\n".join(lines) + "\n"


def _pdf(rng: random.Random) -> bytes:
    body = rng.randbytes(PDF_BYTES - 64)
    return b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + body + b"\n%%EOF\n"


def _base(run: str, n: int, sender: str, to: str, subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Customer {n} <{sender}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = f"<{run}.{n}@customers.test>"
    return msg


def corpus(run: str, count: int, to: str, seed: int = 15) -> list[CorpusMail]:
    """`count` mails for the run named `run` (its name keeps senders and Message-IDs apart from
    other runs on the same stack), in the order they are to be delivered."""
    rng = random.Random(seed)
    mails: list[CorpusMail] = []
    originals: list[tuple[int, str, str]] = []  # (n, sender, subject) of mails one may answer
    for n in range(count):
        roll = rng.random()
        if roll < 0.05 and len(originals) > 20:
            # an answer to a mail far enough back that it is an item by the time this one comes
            on, sender, subject = originals[rng.randrange(0, len(originals) - 20)]
            msg = _base(run, n, sender, to, f"Re: {subject}")
            msg["In-Reply-To"] = f"<{run}.{on}@customers.test>"
            msg["References"] = f"<{run}.{on}@customers.test>"
            msg.set_content("Thanks, one more detail:\n" + _text(rng, 40))
            kind = "reply"
        else:
            sender = f"c{n}@d{n}.{run}.customers.test"
            subject = f"{rng.choice(_WORDS).capitalize()} problem {n} ({run})"
            msg = _base(run, n, sender, to, subject)
            msg.set_content(_text(rng, 120))
            if roll < 0.80:
                kind = "plain"
            elif roll < 0.95:
                kind = "html"
                paragraphs = "".join(f"<p>{line}</p>" for line in _text(rng, 120).splitlines())
                msg.add_alternative(f"<html><body>{paragraphs}</body></html>", subtype="html")
            else:
                kind = "pdf"
                msg.add_attachment(
                    _pdf(rng), maintype="application", subtype="pdf", filename=f"report-{n}.pdf"
                )
            originals.append((n, sender, subject))
        mails.append(CorpusMail(msg.as_bytes(), kind, str(msg["Message-ID"])))
    return mails


def single_mail(run: str, n: int, to: str) -> CorpusMail:
    """One plain mail of a trickle."""
    sender = f"t{n}@t{n}.{run}.customers.test"
    msg = _base(run, n, sender, to, f"Trickle {n} ({run})")
    msg.set_content(_text(random.Random(n), 60))
    return CorpusMail(msg.as_bytes(), "plain", str(msg["Message-ID"]))
