"""Marking the people whose address hard-bounced, when the converter links a bounce to the
item whose mail it returns. An address nobody has yet becomes a contact, so the mark has a
person to live on (and an admin a person to clear it from, through the API)."""

from postroom_converter.domain.bounce import Bounce
from postroom_converter.domain.bounce_marks import bounce_marks
from postroom_converter.domain.mapping import contact_for
from postroom_converter.domain.parse import Address
from postroom_converter.store import ConverterStore
from postroom_shared.contracts import MailReceivedV1
from postroom_shared.logs import get_logger

__all__ = ["mark_bounced"]

log = get_logger(__name__)


async def mark_bounced(
    store: ConverterStore,
    bounce: Bounce | None,
    event: MailReceivedV1,
    *,
    item_id: str,
    subject: str,
) -> int:
    """Mark every person a permanent `bounce` names; returns how many. Idempotent: the mark's
    time is the bounce mail's fetch time, so a redelivery writes the same mark again."""
    marks = bounce_marks(bounce, item_id=item_id, reason=subject, at=event.fetched_at)
    for mark in marks:
        person = await store.find_person(mark.address)
        if person is None:
            person = await store.ensure_contact(contact_for(Address(address=mark.address)))
        await store.set_bounce(person.id, mark)
        log.info("bounced address marked", address=mark.address, code=mark.code, item=item_id)
    return len(marks)
