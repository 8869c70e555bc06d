"""The mail of the replicas test (test_replicas.py): what customers send to eight support
accounts, and what the test expects each mail to become.

Four kinds, every one with a Message-ID of its own that names the run:
- `original`: a customer's first mail; a new item with one auto-reply;
- `racy`: a colleague's answer to an original, right behind it in the same folder (so in the
  same fetch batch, on another converter at the same moment): threaded onto the original's item
  when that item is stored first, else a new item of its own; either way one of them, never both;
- `signed`: the customer's answer to the auto-reply (our signed Message-ID in In-Reply-To, the
  token in the subject), three per item at once, so three converters append to one thread
  together;
- `by_reference`: the customer's second mail naming only the original's Message-ID.
Senders have a domain each (outside example.test: Postfix delivers the auto-replies to the
catch-all mailbox `outbound`), so no rate limit or hourly budget per domain holds one back.
"""

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal

from postroom_shared.models import AfterRead, EmailAccount, ItemType, MailboxSettings, Security
from postroom_shared.secretbox import SecretBox
from tests.stack_env import StackEnv

__all__ = ["Sent", "bare", "desk_account", "follow_up", "original", "signed_reply"]

Kind = Literal["original", "racy", "signed", "by_reference"]


def bare(message_id: str) -> str:
    return message_id.strip().strip("<>")


@dataclass(frozen=True)
class Sent:
    kind: Kind
    account: int  # index of the account whose folder it went into
    n: int  # the original it belongs to
    message_id: str  # without angle brackets
    subject: str
    raw: bytes


def desk_account(stack: StackEnv, run: str, i: int, secret: str) -> EmailAccount:
    """Account `i` of the run: a folder of its own in alice's or bob's mailbox, deleting after
    read; two projects and two item types, so numbers are allocated side by side."""
    user = "alice" if i < 4 else "bob"
    return EmailAccount(
        id=f"acc_{run}_{i}",
        name=f"desk-{run}-{i}",
        address=f"desk{i}.{run}@example.test",
        project="Desk A" if i % 2 == 0 else "Desk B",
        item_type=ItemType.USER_STORY if i >= 6 else ItemType.INCIDENT,
        after_read=AfterRead.DELETE,
        poll_interval_s=1.0,
        use_idle=False,
        mailbox=MailboxSettings(
            host="127.0.0.1",
            port=stack.imap_port,
            security=Security.NONE,
            username=f"{user}@example.test",
            password_enc=SecretBox(secret).encrypt(user),
            folder=f"rep{run}d{i}",
        ),
    )


def _mail(
    account: EmailAccount,
    sender: str,
    subject: str,
    message_id: str,
    *,
    answers: tuple[str, ...] = (),
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = account.address
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{message_id}>"
    if answers:
        msg["In-Reply-To"] = f"<{answers[-1]}>"
        msg["References"] = " ".join(f"<{mid}>" for mid in answers)
    msg.set_content(f"{subject}\n\nThe printer on floor {len(subject)} is on fire again.\n")
    return msg.as_bytes()


def original(run: str, i: int, account: EmailAccount, n: int) -> Sent:
    subject = f"Replicas {run} #{n:04d}"
    message_id = f"o{n}.{run}@c{n}.{run}.test"
    raw = _mail(account, f"Customer {n} <c{n}@c{n}.{run}.test>", subject, message_id)
    return Sent("original", i, n, message_id, subject, raw)


def follow_up(run: str, first: Sent, account: EmailAccount, kind: Kind) -> Sent:
    """`racy` (a colleague, at once) or `by_reference` (the customer, later): Re: the original,
    naming only its Message-ID."""
    n = first.n
    who = f"Colleague {n} <k{n}@k{n}.{run}.test>" if kind == "racy" else f"c{n}@c{n}.{run}.test"
    message_id = f"{kind[0]}{n}.{run}@x{n}.{run}.test"
    subject = f"Re: {first.subject}"
    raw = _mail(account, who, subject, message_id, answers=(first.message_id,))
    return Sent(kind, first.account, n, message_id, subject, raw)


def signed_reply(
    run: str, first: Sent, account: EmailAccount, k: int, auto_reply_id: str, auto_subject: str
) -> Sent:
    """The customer's `k`th answer to the auto-reply of `first`'s item."""
    n = first.n
    message_id = f"s{n}-{k}.{run}@c{n}.{run}.test"
    subject = f"Re: {auto_subject}"
    raw = _mail(
        account,
        f"c{n}@c{n}.{run}.test",
        subject,
        message_id,
        answers=(first.message_id, auto_reply_id),
    )
    return Sent("signed", first.account, n, message_id, subject, raw)
