"""Mail over the account's size limit: never downloaded whole, never blocking the mailbox.

Only its header block is fetched (IMAP `BODY.PEEK[HEADER]`, POP3 `TOP n 0`). The headers go
to the quarantine with a reason naming the size and the limit, and `mail.quarantined.v1`
(too_large=True, sender, subject, size) tells the replier to send the sender the
configurable notice. The caller moves its checkpoint past the mail but leaves the mail itself
in the mailbox (no delete, no flag): the headers are not the mail, and the one whole copy must
not be lost.
"""

import email.header
import email.utils
import hashlib
from email.parser import BytesHeaderParser
from email.policy import compat32

from faststream.rabbit import RabbitBroker

from postroom_shared.contracts import AddressV1, MailQuarantinedV1, deterministic_event_id
from postroom_shared.ingest import mail_received_event
from postroom_shared.mail.headers import clean_header_value
from postroom_shared.messaging import publish_event
from postroom_shared.models import QuarantineEntry
from postroom_shared.store import Store

__all__ = ["quarantine_headers", "quarantine_too_large", "sender_and_subject", "too_large_reason"]


def too_large_reason(size: int, limit: int) -> str:
    return (
        f"mail of {size} bytes exceeds the account's size limit of {limit} bytes;"
        " it was not imported and stays in the mailbox; only its headers were kept here"
    )


def _decoded(value: str) -> str:
    try:
        parts = email.header.decode_header(value)
        text = "".join(
            part.decode(charset or "utf-8", "replace") if isinstance(part, bytes) else part
            for part, charset in parts
        )
    except (LookupError, ValueError):
        text = value
    return clean_header_value(text)


def sender_and_subject(headers: bytes) -> tuple[AddressV1 | None, str]:
    """From and Subject of a header block, decoded; never raises on malformed input."""
    parsed = BytesHeaderParser(policy=compat32).parsebytes(headers)
    subject = _decoded(str(parsed.get("Subject", "") or ""))
    name, address = email.utils.parseaddr(str(parsed.get("From", "") or ""))
    if "@" not in address:
        return None, subject
    return AddressV1(address=clean_header_value(address), name=_decoded(name)), subject


async def quarantine_too_large(
    store: Store,
    broker: RabbitBroker,
    *,
    account_id: str,
    mail_key: str,
    headers: bytes,
    size: int,
    limit: int,
    source: str,
    folder: str = "INBOX",
    uidvalidity: int | None = None,
    uid: int | None = None,
) -> MailQuarantinedV1:
    """Store the headers in the quarantine and publish `mail.quarantined.v1` (confirmed)."""
    return await quarantine_headers(
        store,
        broker,
        account_id=account_id,
        mail_key=mail_key,
        headers=headers,
        size=size,
        reason=too_large_reason(size, limit),
        too_large=True,
        source=source,
        folder=folder,
        uidvalidity=uidvalidity,
        uid=uid,
    )


async def quarantine_headers(
    store: Store,
    broker: RabbitBroker,
    *,
    account_id: str,
    mail_key: str,
    headers: bytes,
    size: int | None,
    reason: str,
    too_large: bool,
    source: str,
    folder: str = "INBOX",
    uidvalidity: int | None = None,
    uid: int | None = None,
) -> MailQuarantinedV1:
    """Quarantine a mail by its header block only and publish `mail.quarantined.v1`."""
    blob_ref = await store.put_blob(headers)
    quarantine_id = "q_" + hashlib.sha256(mail_key.encode()).hexdigest()[:20]
    # What reprocessing would convert: the headers only (the body was never downloaded).
    received = mail_received_event(
        account_id=account_id,
        raw=headers,
        mail_key=mail_key,
        source=source,
        folder=folder,
        uidvalidity=uidvalidity,
        uid=uid,
        blob_ref=blob_ref,
    )
    await store.put_quarantine(
        QuarantineEntry(
            id=quarantine_id,
            account_id=account_id,
            mail_key=mail_key,
            reason=reason,
            blob_ref=blob_ref,
            event=received.model_dump_json(),
            headers_only=True,
        )
    )
    sender, subject = sender_and_subject(headers)
    event = MailQuarantinedV1(
        event_id=deterministic_event_id(mail_key, "mail.quarantined.v1", reason),
        source=source,
        correlation_id=mail_key,
        account_id=account_id,
        mail_key=mail_key,
        quarantine_id=quarantine_id,
        reason=reason,
        too_large=too_large,
        sender=sender,
        subject=subject,
        size=size,
    )
    await publish_event(broker, event)
    return event
