"""Mapping a parsed mail onto an item and a thread message (docs/features.md F3 defaults:
subject → title, body → description, sender → requester)."""

import hashlib
from datetime import datetime, timedelta

from postroom_converter.domain.parse import Address, ParsedMail
from postroom_shared.contracts import ActorV1, AddressV1, ClassificationV1, MessageRefV1
from postroom_shared.mail.headers import clean_header_value
from postroom_shared.models import (
    EmailAccount,
    Item,
    MailSource,
    Party,
    Person,
    StoredAttachment,
    ThreadMessage,
    utcnow,
)

__all__ = [
    "contact_for",
    "item_id_for",
    "mail_actor",
    "message_ref",
    "new_item",
    "participants_of",
    "source_text",
    "thread_message",
]

_MAX_DESCRIPTION = 100_000


def item_id_for(mail_key: str) -> str:
    """Deterministic: a redelivered mail maps to the same item id."""
    return "it_" + hashlib.sha256(mail_key.encode()).hexdigest()[:20]


def _party(address: Address | None) -> Party | None:
    return Party(address=address.address, name=address.name) if address else None


def participants_of(mail: ParsedMail, account: EmailAccount) -> list[str]:
    """Who may thread onto the item by token: the sender and the people copied."""
    own = account.address.lower()
    people = [mail.sender, *mail.cc] if mail.sender else list(mail.cc)
    return sorted({p.address for p in people if p is not None and p.address != own})


def _plain(address: Address | None) -> str:
    if address is None:
        return ""
    return f"{address.name} <{address.address}>" if address.name else address.address


def source_text(mail: ParsedMail, source: MailSource) -> str:
    """The value of one mail source as text (for title, description and custom fields)."""
    match source:
        case "subject":
            return clean_header_value(mail.subject, max_length=250)
        case "body":
            return mail.text[:_MAX_DESCRIPTION]
        case "reply_text":
            return mail.reply_text[:_MAX_DESCRIPTION]
        case "sender":
            return _plain(mail.sender)
        case "sender_address":
            return mail.sender.address if mail.sender else ""
        case "sender_name":
            return mail.sender.name if mail.sender else ""
        case "received_date":
            return mail.date.isoformat() if mail.date else ""
        case "to":
            return ", ".join(_plain(a) for a in mail.to)
        case "cc":
            return ", ".join(_plain(a) for a in mail.cc)
        case "message_id":
            return mail.message_id


def _created_at(mail: ParsedMail, now: datetime) -> datetime:
    # A Date header can lie (clock skew, spam): only a plausible past date is used.
    if mail.date is not None and now - timedelta(days=3650) < mail.date <= now:
        return mail.date
    return now


def new_item(
    account: EmailAccount,
    mail: ParsedMail,
    *,
    number: int,
    mail_key: str,
    requester_id: str | None = None,
) -> Item:
    """The new item for `mail`, by the account's field mapping and default values."""
    options = account.items
    now = utcnow()
    item = Item(
        id=item_id_for(mail_key),
        item_type=account.item_type,
        number=number,
        project=account.project,
        account_id=account.id,
        title="(no subject)",
        participants=participants_of(mail, account),
        message_count=1,
        requester_id=requester_id,
        creator_id=account.creator,  # the user the account creates items for
        notify_on_create=not options.no_separate_notification_for_new,
        created_at=now,
        updated_at=now,
    )
    for target, source in options.field_mapping.items():
        if target == "requester":
            item.requester = _party(mail.sender) if source == "sender" else None
        elif target == "created_date":
            item.created_at = _created_at(mail, now) if source == "received_date" else now
        elif target == "title":
            item.title = source_text(mail, source)[:250] or "(no subject)"
        elif target == "description":
            item.description = source_text(mail, source)
        else:  # fields.<name>
            item.fields[target.removeprefix("fields.")] = source_text(mail, source)[:10_000]
    for target, value in options.defaults.items():
        if target == "status":
            item.status = value
        elif target == "priority":
            item.priority = value
        else:
            item.fields[target.removeprefix("fields.")] = value
    if options.add_sender_to_notifications and mail.sender is not None:
        item.notify = [mail.sender.address]
    return item


def thread_message(
    *,
    item_id: str,
    account: EmailAccount,
    mail: ParsedMail,
    mail_key: str,
    kind: str,
    blob_ref: str | None,
    attachments: list[StoredAttachment] | None = None,
) -> ThreadMessage:
    return ThreadMessage(
        key=mail_key,
        item_id=item_id,
        account_id=account.id,
        direction="in",
        message_id=mail.message_id,
        in_reply_to=list(mail.in_reply_to),
        references=list(mail.references),
        subject=mail.subject,
        sender=_party(mail.sender),
        to=[Party(address=a.address, name=a.name) for a in mail.to],
        cc=[Party(address=a.address, name=a.name) for a in mail.cc],
        date=mail.date,
        text=mail.text[:_MAX_DESCRIPTION],
        html=mail.html[: _MAX_DESCRIPTION * 5] if mail.html else None,
        reply_text=mail.reply_text[:_MAX_DESCRIPTION],
        attachments=attachments or [],
        kind=kind,
        blob_ref=blob_ref,
        created_at=utcnow(),
    )


def _addr(address: Address) -> AddressV1:
    return AddressV1(address=address.address, name=address.name)


def message_ref(mail: ParsedMail, mail_key: str, classification: ClassificationV1) -> MessageRefV1:
    return MessageRefV1(
        mail_key=mail_key,
        message_id=mail.message_id,
        references=mail.references,
        subject=mail.subject,
        sender=_addr(mail.sender) if mail.sender else None,
        reply_to=tuple(_addr(a) for a in mail.reply_to),
        to=tuple(_addr(a) for a in mail.to),
        cc=tuple(_addr(a) for a in mail.cc),
        return_path_null=mail.return_path_null,
        classification=classification,
    )


def mail_actor(mail: ParsedMail) -> ActorV1 | None:
    """Who a mail's change to an item is credited to: its sender, as item commands name their
    caller, so subscribers see who moved the item and the replier does not notify the sender of
    their own mail; None when the mail has no readable From."""
    if mail.sender is None:
        return None
    return ActorV1(kind="mail", id=mail.sender.address, name=mail.sender.name)


def contact_for(sender: Address) -> Person:
    """The contact created for an unknown sender (id derived from the address: idempotent)."""
    digest = hashlib.sha256(sender.address.encode()).hexdigest()[:16]
    return Person(id=f"ct_{digest}", kind="contact", name=sender.name, emails=[sender.address])
