"""Bounces that do not say so in their structure, told by who sent them and what they say.

Only about a third of real bounces are RFC 3464 reports; the rest are an MTA's or a gateway's own
text. Each sign alone is weak (anyone can write "user unknown"), so a notice counts as a bounce
only with two: a daemon or machine sender, a null return path, a bounce subject, MTA boilerplate,
a DSN status code, the returned mail attached. The patterns are in `bounce_patterns.py`; the
decision order in `classify.py` (docs/decisions.md, loop safety).
"""

import re
from dataclasses import dataclass

from postroom_converter.domain.bounce import notice_text
from postroom_converter.domain.bounce_patterns import (
    BOUNCE_SUBJECT_RE,
    FEEDBACK_SUBJECT_RE,
    MACHINE_SENDER_RE,
    STRONG_BODY_RE,
    WEAK_BODY_RE,
)
from postroom_converter.domain.parse import ParsedMail

__all__ = ["DAEMON_ADDR_RE", "bounce_notice", "has_part"]

DAEMON_ADDR_RE = re.compile(
    r"^(?:mailer[-_.]?daemon|post_?master|double-bounce|mdaemon)(?:@|$)", re.IGNORECASE
)
_DSN_STATUS_RE = re.compile(r"(?<![\d.])[245]\.\d{1,3}\.\d{1,3}(?![\d.])")
_RETURNED_TYPES = ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers")
_FEEDBACK_BODY_RE = re.compile(r"x-hmxmroriginalrecipient|feedback-type:", re.IGNORECASE)


def bounce_notice(mail: ParsedMail) -> str:
    """Why `mail` is a bounce that does not say so in its structure ("" when it is none).

    The body is read only when a header already hints at a machine (daemon sender, null
    return path, bounce-like subject) or the mail has parts; ordinary mail never pays for it."""
    sender = _Sender.of(mail)
    bounce_subject = bool(BOUNCE_SUBJECT_RE.search(mail.subject))
    hinted = sender.machine or sender.null_path or bounce_subject
    if not (hinted or mail.content_type.startswith("multipart/")):
        return ""
    text = (notice_text(mail.tree) if mail.tree is not None else mail.text) or mail.text
    return (
        _dsn_part(mail)
        or _mta_notice(mail.subject, text, sender, bounce_subject=bounce_subject)
        or _weak_notice(mail, text, sender, bounce_subject=bounce_subject)
        or _feedback_report(mail, text)
    )


@dataclass(frozen=True)
class _Sender:
    """Who a mail claims to come from, as far as bounces care."""

    machine: bool  # a daemon-like From, or no sender at all
    null_path: bool  # Return-Path <> or <MAILER-DAEMON...>
    daemon: bool  # the From address is a mail system's own (mailer-daemon@, postmaster@, ...)

    @classmethod
    def of(cls, mail: ParsedMail) -> "_Sender":
        from_header = " ".join(mail.headers.get("from", ()))
        address = mail.sender.address if mail.sender else ""
        machine = bool(MACHINE_SENDER_RE.search(from_header)) or not address
        null_path = mail.return_path_null or mail.header("return-path").lower().startswith(
            "<mailer-daemon"
        )
        daemon = bool(DAEMON_ADDR_RE.match(address))
        return cls(machine=machine, null_path=null_path, daemon=daemon)

    @property
    def who(self) -> str:
        return "machine sender" if self.machine else "null return path" if self.null_path else ""


def _dsn_part(mail: ParsedMail) -> str:
    if mail.content_type != "multipart/report" and has_part(mail, "message/delivery-status"):
        return "message/delivery-status part"
    return ""


def _mta_notice(subject: str, text: str, sender: _Sender, *, bounce_subject: bool) -> str:
    """A bounce subject or an MTA's bounce wording, each only believed together with a second
    sign (a machine sender, a null return path, or the other of the two)."""
    strong = STRONG_BODY_RE.search(text)
    who = sender.who
    if who and bounce_subject:
        return f"bounce subject {subject[:60]!r} from a {who}"
    if who and strong:
        return f"MTA bounce text {strong.group(0).strip()[:60]!r} from a {who}"
    if bounce_subject and strong:
        return f"bounce subject and MTA bounce text {strong.group(0).strip()[:60]!r}"
    return ""


def _weak_notice(mail: ParsedMail, text: str, sender: _Sender, *, bounce_subject: bool) -> str:
    """Generic delivery-error wording ("user unknown", "550 5.1.1"), believed only from a mail
    system's own address, a machine sender with a null return path, or under a bounce subject
    together with a DSN status code and the returned message (a gateway that writes its own
    notice; a person's "Undeliverable parcel" has neither)."""
    weak = WEAK_BODY_RE.search(text)
    if not weak:
        return ""
    said = weak.group(0)[:40]
    if sender.daemon:
        return f"delivery error text {said!r} from a mail system's address"
    if sender.machine and sender.null_path:
        return f"delivery error text {said!r} from a machine sender with null return path"
    returned = any(has_part(mail, t) for t in _RETURNED_TYPES)
    if bounce_subject and returned and _DSN_STATUS_RE.search(text):
        return f"bounce subject, status code and returned message ({said!r})"
    return ""


def _feedback_report(mail: ParsedMail, text: str) -> str:
    """An abuse or complaint report that is not ARF (Hotmail/JMRP): subject, and the returned
    message attached or quoted."""
    if FEEDBACK_SUBJECT_RE.search(mail.subject) and (
        _FEEDBACK_BODY_RE.search(text) or has_part(mail, "message/rfc822")
    ):
        return "abuse/feedback report (returned message attached)"
    return ""


def has_part(mail: ParsedMail, content_type: str) -> bool:
    if mail.tree is None or not mail.tree.is_multipart():
        return False
    return any(p.get_content_type() == content_type for p in mail.tree.walk())
