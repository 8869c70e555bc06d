"""Mail over the account's size limit: never downloaded whole, never blocking the mailbox.

Only its header block is fetched (IMAP `BODY.PEEK[HEADER]`, POP3 `TOP n 0`). The headers go
to the quarantine with a reason naming the size and the limit, and `mail.quarantined.v1`
(too_large=True, sender, subject, size) tells the replier to send the sender the
configurable notice. Mail the server cannot hand out (`domain/poison.py`) is quarantined the
same way, by a placeholder header block. The caller moves its checkpoint past the mail but
leaves the mail itself in the mailbox (no delete, no flag): the headers are not the mail, and
the one whole copy must not be lost.
"""

import hashlib

from postroom_fetcher.domain.origin import Origin
from postroom_fetcher.domain.oversize import sender_and_subject, too_large_reason
from postroom_fetcher.sync.outlet import Outlet
from postroom_shared.contracts import MailQuarantinedV1, deterministic_event_id
from postroom_shared.ingest import mail_received_event
from postroom_shared.messaging import publish_event
from postroom_shared.models import QuarantineEntry

__all__ = ["quarantine_headers", "quarantine_too_large"]


async def quarantine_too_large(
    outlet: Outlet, origin: Origin, *, headers: bytes, size: int, limit: int
) -> MailQuarantinedV1:
    """Store the headers in the quarantine and publish `mail.quarantined.v1` (confirmed)."""
    reason = too_large_reason(size, limit)
    return await quarantine_headers(
        outlet, origin, headers=headers, size=size, reason=reason, too_large=True
    )


async def quarantine_headers(
    outlet: Outlet,
    origin: Origin,
    *,
    headers: bytes,
    size: int | None,
    reason: str,
    too_large: bool,
) -> MailQuarantinedV1:
    """Quarantine a mail by its header block only and publish `mail.quarantined.v1`."""
    mail_key = origin.mail_key
    blob_ref = await outlet.store.put_blob(headers)
    quarantine_id = "q_" + hashlib.sha256(mail_key.encode()).hexdigest()[:20]
    # What reprocessing would convert: the headers only (the body was never downloaded).
    fields = origin.event_fields(outlet.source)
    received = mail_received_event(raw=headers, blob_ref=blob_ref, **fields)
    await outlet.store.put_quarantine(
        QuarantineEntry(
            id=quarantine_id,
            account_id=origin.account_id,
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
        source=outlet.source,
        correlation_id=mail_key,
        account_id=origin.account_id,
        mail_key=mail_key,
        quarantine_id=quarantine_id,
        reason=reason,
        too_large=too_large,
        sender=sender,
        subject=subject,
        size=size,
    )
    await publish_event(outlet.broker, event)
    return event
