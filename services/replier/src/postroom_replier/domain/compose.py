"""Composing what the replier sends: pure functions from item, account and inbound mail (or a
quarantined mail's sender and subject) to a message.

Everything copied from the inbound mail into a header goes through `clean_header_value`
(no CR/LF, no header injection); the loop-safety headers of docs/decisions.md, loop safety are
always set, on auto-replies, notifications, too-large notices and test mail alike.
"""

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, formatdate

from postroom_replier.domain.templates import Rendered
from postroom_shared.contracts import ItemRefV1, MessageRefV1
from postroom_shared.mail.headers import clean_header_value
from postroom_shared.mail.tokens import format_token, subject_with_token
from postroom_shared.models import EmailAccount, ItemType, ThreadMessage

__all__ = [
    "LOOP_HEADER",
    "Attachment",
    "compose_auto_reply",
    "compose_team_reply",
    "compose_test_mail",
    "compose_too_large_notice",
    "final_subject",
    "megabytes",
]

LOOP_HEADER = "X-Postroom-Loop"
_MAX_REFERENCES = 20


def _references(inbound: MessageRefV1 | None) -> list[str]:
    chain = [*inbound.references, inbound.message_id] if inbound and inbound.message_id else []
    return [clean_header_value(mid, max_length=250) for mid in chain[-_MAX_REFERENCES:]]


def _loop_safety(msg: EmailMessage, *, instance: str, auto_submitted: str) -> None:
    msg["Auto-Submitted"] = auto_submitted  # auto-generated for notifications and test mail
    msg["X-Auto-Response-Suppress"] = "All"
    msg["Precedence"] = "auto_reply"
    msg[LOOP_HEADER] = instance


def final_subject(rendered_subject: str, item: ItemRefV1) -> str:
    """The subject as sent: the template's (or the item title), with the item token once."""
    return subject_with_token(
        clean_header_value(rendered_subject, max_length=300) or item.title,
        ItemType(item.item_type),
        item.number,
    )


def compose_auto_reply(
    *,
    account: EmailAccount,
    item: ItemRefV1,
    inbound: MessageRefV1 | None,
    recipient: str,
    message_id: str,
    instance: str,
    rendered: Rendered,
    auto_submitted: str = "auto-replied",
) -> EmailMessage:
    """The auto-reply or notification; `rendered` is the account's template rendered for this
    mail; `inbound` the mail it answers (None for a change no mail caused: no threading
    headers then, the subject token threads it)."""
    msg = EmailMessage()
    msg["From"] = formataddr((clean_header_value(account.name, max_length=100), account.address))
    msg["To"] = recipient
    msg["Subject"] = final_subject(rendered.subject, item)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id
    references = _references(inbound)
    if references:
        msg["In-Reply-To"] = references[-1]
        msg["References"] = " ".join(references)
    _loop_safety(msg, instance=instance, auto_submitted=auto_submitted)
    msg.set_content(rendered.text)
    if rendered.html:
        msg.add_alternative(rendered.html, subtype="html")
    return msg


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


def compose_team_reply(
    *,
    account: EmailAccount,
    item: ItemRefV1,
    reply: ThreadMessage,
    recipient: str,
    instance: str,
    rendered: Rendered,
    attachments: tuple[Attachment, ...] = (),
) -> EmailMessage:
    """A reply the team wrote, as the item's owner stored it (`reply`: its signed Message-ID,
    In-Reply-To/References to the item's last inbound mail, its subject): person-to-person
    mail, so no `Auto-Submitted` or `Precedence` (it must reach a human and be answerable),
    but our loop header, so our own mailboxes never take it for a customer's mail."""
    msg = EmailMessage()
    msg["From"] = formataddr((clean_header_value(account.name, max_length=100), account.address))
    msg["To"] = recipient
    chosen = clean_header_value(reply.subject, max_length=300)
    token = format_token(ItemType(item.item_type), item.number)
    has_token = token.lower() in chosen.lower()
    msg["Subject"] = chosen if has_token else final_subject(chosen or rendered.subject, item)
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = reply.message_id
    chain = reply.references or reply.in_reply_to
    references = [clean_header_value(mid, max_length=250) for mid in chain[-_MAX_REFERENCES:]]
    if reply.in_reply_to:
        msg["In-Reply-To"] = clean_header_value(reply.in_reply_to[-1], max_length=250)
    if references:
        msg["References"] = " ".join(references)
    msg[LOOP_HEADER] = instance
    msg.set_content(rendered.text)
    if rendered.html:
        msg.add_alternative(rendered.html, subtype="html")
    for file in attachments:
        maintype, _, subtype = file.content_type.partition("/")
        if not maintype or not subtype or maintype == "multipart":
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(
            file.data,
            maintype=maintype,
            subtype=subtype,
            filename=clean_header_value(file.filename, max_length=200) or "attachment",
        )
    return msg


def megabytes(size: int) -> str:
    """`26214400` -> "25 MB", `1572864` -> "1.5 MB" (MB = 2^20 bytes, as the size limits)."""
    value = f"{size / 1048576:.1f}".removesuffix(".0")
    return f"{value} MB"


def compose_too_large_notice(
    *,
    account: EmailAccount,
    recipient: str,
    subject: str,
    size: int | None,
    limit: int,
    message_id: str,
    instance: str,
) -> EmailMessage:
    """The short notice to the sender of a mail left unprocessed for its size: an RFC 3834
    auto-reply (it answers one mail), with every loop-safety header."""
    original = clean_header_value(subject, max_length=200) or "(no subject)"
    of_size = f" of {megabytes(size)}" if size is not None else ""
    msg = EmailMessage()
    msg["From"] = formataddr((clean_header_value(account.name, max_length=100), account.address))
    msg["To"] = recipient
    msg["Subject"] = f"Not processed (too large): {original}"
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id
    _loop_safety(msg, instance=instance, auto_submitted="auto-replied")
    msg.set_content(
        f"Hello,\n\nyour mail '{original}'{of_size} exceeds the limit of {megabytes(limit)}"
        f" of {account.address} and was not processed.\n\n"
        "Please send it again without large attachments (share them as a link instead).\n\n"
        f"--\n{account.name}\nThis is an automatic notice.\n"
    )
    return msg


def compose_test_mail(
    *, sender: str, recipient: str, message_id: str, instance: str
) -> EmailMessage:
    """The "send test mail" action's mail (docs/features.md F1): plain, and as loop-safe as any
    other."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = "Postroom test mail"
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id
    _loop_safety(msg, instance=instance, auto_submitted="auto-generated")
    msg.set_content("This test mail shows that Postroom can send through this SMTP server.\n")
    return msg
