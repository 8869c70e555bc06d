"""The request the replier sends the item's owner once an automatic mail went out: put it on
the item's thread (the converter owns items and threads; docs/decisions.md). Pure: the same
mail gives the same command id, so asking again after a redelivery changes nothing."""

from datetime import datetime
from typing import Literal

from postroom_shared.contracts import (
    AddressV1,
    ItemCreatedV1,
    ItemUpdatedV1,
    MessageRefV1,
    RecordSentMailV1,
    deterministic_event_id,
)
from postroom_shared.models import EmailAccount

__all__ = ["inbound_mail", "record_sent_mail"]

SOURCE = "replier"


def inbound_mail(event: ItemCreatedV1 | ItemUpdatedV1) -> MessageRefV1:
    """The mail behind an item event. Updates made by a command carry none; the replier's
    handler skips those before anything asks for the mail."""
    if event.message is None:
        raise ValueError(f"{event.type} {event.event_id} was not caused by a mail")
    return event.message


def record_sent_mail(
    *,
    event: ItemCreatedV1 | ItemUpdatedV1,
    account: EmailAccount,
    recipient: str,
    kind: Literal["auto_reply", "notification"],
    message_id: str,
    subject: str,
    sent_at: datetime,
) -> RecordSentMailV1:
    """The command for the mail with `message_id` sent to `recipient` about `event`'s item."""
    item_id, inbound = event.item.item_id, inbound_mail(event)
    command_type = RecordSentMailV1.model_fields["type"].default
    return RecordSentMailV1(
        command_id=deterministic_event_id(command_type, item_id, message_id),
        source=SOURCE,
        correlation_id=event.correlation_id,
        causation_id=event.event_id,
        item_id=item_id,
        account_id=account.id,
        message_id=message_id,
        in_reply_to=(inbound.message_id,) if inbound.message_id else (),
        subject=subject,
        sender=AddressV1(address=account.address, name=account.name),
        to=(AddressV1(address=recipient),),
        kind=kind,
        sent_at=sent_at,
    )
