"""Mapping a parsed mail onto an item and a thread message (SPEC F3 defaults:
subject → title, body → description, sender → requester)."""

import hashlib

from postroom_converter.domain.parse import Address, ParsedMail
from postroom_shared.contracts import AddressV1, ClassificationV1, MessageRefV1
from postroom_shared.mail.headers import clean_header_value
from postroom_shared.models import EmailAccount, Item, Party, ThreadMessage, utcnow

__all__ = ["item_id_for", "message_ref", "new_item", "participants_of", "thread_message"]

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


def new_item(account: EmailAccount, mail: ParsedMail, *, number: int, mail_key: str) -> Item:
    title = clean_header_value(mail.subject, max_length=250) or "(no subject)"
    return Item(
        id=item_id_for(mail_key),
        item_type=account.item_type,
        number=number,
        project=account.project,
        account_id=account.id,
        title=title,
        description=mail.text[:_MAX_DESCRIPTION],
        requester=_party(mail.sender),
        participants=participants_of(mail, account),
        message_count=1,
    )


def thread_message(
    *,
    item_id: str,
    account: EmailAccount,
    mail: ParsedMail,
    mail_key: str,
    kind: str,
    blob_ref: str | None,
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
