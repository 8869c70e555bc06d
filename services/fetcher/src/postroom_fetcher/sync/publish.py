"""The one way a fetched mail leaves the fetcher: `mail.received.v1`, confirmed by the broker.

IMAP, POP3 and `postroom deliver` all publish through `publish_mail`, with the mail either in
memory (carried inline up to `inline_max_bytes`, else stored as a blob first) or already
streamed into the blob store. Only after it returns may a caller delete the mail at its source
or move its checkpoint: see docs/architecture.md, "Never lose, never duplicate".
"""

from postroom_fetcher.domain.origin import Origin
from postroom_fetcher.sync.outlet import Outlet
from postroom_shared.contracts import MailReceivedV1
from postroom_shared.ingest import publish_raw_mail, publish_stored_mail
from postroom_shared.logs import get_logger
from postroom_shared.store import StoredBlob

__all__ = ["publish_mail"]

log = get_logger(__name__)


async def publish_mail(outlet: Outlet, origin: Origin, mail: bytes | StoredBlob) -> MailReceivedV1:
    """Publish `mail` (raw bytes, or a blob already stored) and return the confirmed event."""
    fields = origin.event_fields(outlet.source)
    if isinstance(mail, StoredBlob):
        event = await publish_stored_mail(outlet.broker, blob=mail, **fields)
    else:
        inline_max = outlet.inline_max_bytes
        event = await publish_raw_mail(
            outlet.store, outlet.broker, raw=mail, inline_max_bytes=inline_max, **fields
        )
    # One line per mail at debug only: at info it cost a tenth of the fetcher's CPU per mail;
    # the batch's line (`imap_batch.py`, `pop3.py`) and the converter's per mail remain.
    log.debug("mail published", size=event.size, streamed=isinstance(mail, StoredBlob))
    return event
