"""Whether the sender of a mail left unprocessed for its size gets a notice (docs/features.md F2,
F10).

The fetcher never downloads such a mail, so `mail.quarantined.v1` carries only its sender and
subject: the header checks of the auto-reply (Auto-Submitted, List-Id, DSN ...) cannot run.
What can run does: our own addresses, daemon/no-reply addresses, and subjects that announce a
bounce or an auto-reply (a bounce quoting a large mail is itself large: it must never be
answered). The service adds the rate limits and the ledger on top, as for every automatic mail.
"""

import hashlib
import re
from dataclasses import dataclass

from postroom_replier.domain.loop_rules import NOREPLY_RE
from postroom_shared.contracts import MailQuarantinedV1
from postroom_shared.models import EmailAccount

__all__ = ["AUTOMATIC_SUBJECT_RE", "NoticePlan", "notice_key", "plan_too_large_notice"]

LEDGER_REASON = "too_large"

# Subjects of bounces, delay warnings and auto-replies in the wording of the common MTAs and
# mail clients (Postfix, Exim, Sendmail, Exchange, Gmail; "Automatic reply", "Auto:", "AW:"-free).
AUTOMATIC_SUBJECT_RE = re.compile(
    r"^\s*(?:"
    r"undeliver(?:able|ed)|returned mail|mail delivery (?:failed|failure|system)|"
    r"delivery (?:status notification|failure|notification|has failed|report|delayed)|"
    r"failure notice|non[- ]?delivery|nondeliverable|delayed mail|"
    r"warning: (?:could not send|delayed)|"
    r"automatic reply|auto(?:matic)?[- ]?(?:reply|response|answer)|auto:|autoreply|"
    r"out of (?:the )?office|abwesenheitsnotiz|r[ée]ponse automatique|respuesta autom[áa]tica"
    r")",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class NoticePlan:
    """`recipient` gets the notice, or nobody does and `why` says why. `applies` is False for
    quarantined mail that is not about size (no notice, nothing to report)."""

    applies: bool
    recipient: str | None = None
    why: str | None = None


def notice_key(quarantine_id: str) -> str:
    """The id the notice is signed and recorded under: the quarantine id when it fits a
    Message-ID's item part, else a digest of it."""
    if re.fullmatch(r"[A-Za-z0-9_]{1,64}", quarantine_id):
        return quarantine_id
    return "q_" + hashlib.sha256(quarantine_id.encode()).hexdigest()[:20]


def plan_too_large_notice(
    *, event: MailQuarantinedV1, account: EmailAccount | None, own_addresses: set[str]
) -> NoticePlan:
    if not event.too_large:
        return NoticePlan(applies=False)
    sender = event.sender.address.strip().lower() if event.sender else ""
    if account is None:
        return NoticePlan(True, sender or None, f"unknown account {event.account_id!r}")
    if not account.tell_sender_when_too_large:
        why = "the account does not tell senders about too-large mail"
        return NoticePlan(True, sender or None, why)
    if not sender or "@" not in sender:
        return NoticePlan(True, None, "no usable sender address (null return path?)")
    if sender in own_addresses:
        return NoticePlan(True, sender, "recipient is one of our own addresses")
    if NOREPLY_RE.match(sender):
        return NoticePlan(True, sender, "recipient looks like a daemon or no-reply address")
    if AUTOMATIC_SUBJECT_RE.match(event.subject):
        why = f"the large mail looks automatic (subject {event.subject[:60]!r})"
        return NoticePlan(True, sender, why)
    return NoticePlan(True, sender)
