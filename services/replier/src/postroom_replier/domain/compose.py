"""Composing what the replier sends: pure functions from item, account and inbound mail (or a
quarantined mail's sender and subject) to a message, written directly as bytes by `wire.py`.

Everything copied from the inbound mail into a header goes through `clean_header_value`
(no CR/LF, no header injection); the loop-safety headers of docs/decisions.md, loop safety are
always set, on auto-replies, notifications, too-large notices and test mail alike.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from postroom_replier.domain.templates import Rendered
from postroom_replier.domain.wire import (
    OutboundMail,
    address_header,
    attachment_part,
    header,
    ids_header,
    message_bytes,
    multipart,
    text_part,
)
from postroom_shared.contracts import ItemRefV1, MessageRefV1
from postroom_shared.mail.headers import clean_header_value
from postroom_shared.mail.tokens import format_token, subject_with_token
from postroom_shared.models import EmailAccount, ItemType, ThreadMessage

__all__ = [
    "LOOP_HEADER",
    "Attachment",
    "OutboundMail",
    "compose_auto_reply",
    "compose_team_reply",
    "compose_test_mail",
    "compose_too_large_notice",
    "final_subject",
    "megabytes",
]

LOOP_HEADER = "X-Postroom-Loop"
_MAX_REFERENCES = 20


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


def _references(inbound: MessageRefV1 | None) -> list[str]:
    chain = [*inbound.references, inbound.message_id] if inbound and inbound.message_id else []
    return [clean_header_value(mid, max_length=250) for mid in chain[-_MAX_REFERENCES:]]


def _loop_safety(instance: str, auto_submitted: str) -> list[str]:
    return [
        header("Auto-Submitted", auto_submitted),  # auto-generated: notifications, test mail
        header("X-Auto-Response-Suppress", "All"),
        header("Precedence", "auto_reply"),
        header(LOOP_HEADER, instance),
    ]


def _mail(
    *,
    sender: str,
    sender_name: str,
    recipient: str,
    subject: str,
    message_id: str,
    threading: Sequence[str | None],
    extra: Sequence[str],
    text: str,
    html: str | None = None,
    attachments: Sequence[Attachment] = (),
) -> OutboundMail:
    """The message with its headers in the order readers are used to: originator, recipient,
    subject, date, ids and threading, then `extra` (loop safety), then the content."""
    plain, said = text_part("plain", text)
    content = plain
    if html:
        rich, said_html = text_part("html", html)
        content, said = multipart("alternative", [plain, rich]), said + said_html
    if attachments:
        files = [attachment_part(f.filename, f.content_type, f.data) for f in attachments]
        content = multipart("mixed", [content, *files])
    data = message_bytes(
        [
            address_header("From", sender, sender_name),
            address_header("To", recipient),
            header("Subject", subject),
            header("Date", format_datetime(datetime.now(UTC))),  # RFC 5322 zone: +0000, not GMT
            ids_header("Message-ID", [message_id]),
            *threading,
            *extra,
        ],
        content,
    )
    utf8 = not (sender + recipient).isascii()
    return OutboundMail(sender, recipient, subject, said, data, utf8)


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
) -> OutboundMail:
    """The auto-reply or notification; `rendered` is the account's template rendered for this
    mail; `inbound` the mail it answers (None for a change no mail caused: no threading
    headers then, the subject token threads it)."""
    references = _references(inbound)
    return _mail(
        sender=account.address,
        sender_name=clean_header_value(account.name, max_length=100),
        recipient=recipient,
        subject=final_subject(rendered.subject, item),
        message_id=message_id,
        threading=[
            ids_header("In-Reply-To", references[-1:]),
            ids_header("References", references),
        ],
        extra=_loop_safety(instance, auto_submitted),
        text=rendered.text,
        html=rendered.html,
    )


def compose_team_reply(
    *,
    account: EmailAccount,
    item: ItemRefV1,
    reply: ThreadMessage,
    recipient: str,
    instance: str,
    rendered: Rendered,
    attachments: tuple[Attachment, ...] = (),
) -> OutboundMail:
    """A reply the team wrote, as the item's owner stored it (`reply`: its signed Message-ID,
    In-Reply-To/References to the item's last inbound mail, its subject): person-to-person
    mail, so no `Auto-Submitted` or `Precedence` (it must reach a human and be answerable),
    but our loop header, so our own mailboxes never take it for a customer's mail."""
    chosen = clean_header_value(reply.subject, max_length=300)
    token = format_token(ItemType(item.item_type), item.number)
    has_token = token.lower() in chosen.lower()
    chain = reply.references or reply.in_reply_to
    references = [clean_header_value(mid, max_length=250) for mid in chain[-_MAX_REFERENCES:]]
    answered = [clean_header_value(mid, max_length=250) for mid in reply.in_reply_to[-1:]]
    files = [
        Attachment(
            clean_header_value(f.filename, max_length=200).strip() or "attachment",
            f.content_type,
            f.data,
        )
        for f in attachments
    ]
    return _mail(
        sender=account.address,
        sender_name=clean_header_value(account.name, max_length=100),
        recipient=recipient,
        subject=chosen if has_token else final_subject(chosen or rendered.subject, item),
        message_id=reply.message_id,
        threading=[ids_header("In-Reply-To", answered), ids_header("References", references)],
        extra=[header(LOOP_HEADER, instance)],
        text=rendered.text,
        html=rendered.html,
        attachments=files,
    )


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
) -> OutboundMail:
    """The short notice to the sender of a mail left unprocessed for its size: an RFC 3834
    auto-reply (it answers one mail), with every loop-safety header."""
    original = clean_header_value(subject, max_length=200) or "(no subject)"
    of_size = f" of {megabytes(size)}" if size is not None else ""
    return _mail(
        sender=account.address,
        sender_name=clean_header_value(account.name, max_length=100),
        recipient=recipient,
        subject=f"Not processed (too large): {original}",
        message_id=message_id,
        threading=[],
        extra=_loop_safety(instance, "auto-replied"),
        text=f"Hello,\n\nyour mail '{original}'{of_size} exceeds the limit of {megabytes(limit)}"
        f" of {account.address} and was not processed.\n\n"
        "Please send it again without large attachments (share them as a link instead).\n\n"
        f"--\n{account.name}\nThis is an automatic notice.\n",
    )


def compose_test_mail(
    *, sender: str, recipient: str, message_id: str, instance: str
) -> OutboundMail:
    """The "send test mail" action's mail (docs/features.md F1): plain, and as loop-safe as any
    other. ValueError for an address that cannot be put into a header."""
    return _mail(
        sender=sender,
        sender_name="",
        recipient=recipient,
        subject="Postroom test mail",
        message_id=message_id,
        threading=[],
        extra=_loop_safety(instance, "auto-generated"),
        text="This test mail shows that Postroom can send through this SMTP server.\n",
    )
