"""The converter owns items and their threads; other services ask it to change them with
commands on `postroom.commands`, never by writing the store themselves (docs/decisions.md,
"One owner for the item"). One queue per command; each consumer acks only after the store
write and is idempotent by the command id.

- `item.record_sent_mail.v1` (the replier, after a mail went out): `sent_mail.py`, written
  through the group commit the converter's mails use (one store call for the commands and
  mails handled side by side);
- the item commands (`item.change_status.v1`, `item.assign.v1`, `item.set_fields.v1`,
  `item.set_notify.v1`, `item.add_note.v1`, `item.add_reply.v1`): `items.py`, the same write
  path the API calls in-process. A refused command (unknown status, stale version, ...) is
  announced with `item.command_rejected.v1` and parked in its queue's dead-letter queue at
  once, with the reason in the `x-postroom-error` header.
"""

from faststream.rabbit import RabbitBroker

from postroom_converter.commands.items import (
    Applied,
    apply_item_command,
    rejected_event,
)
from postroom_converter.commands.sent_mail import (
    record_sent_mail,
    sent_mail_message,
    sent_mail_write,
)
from postroom_converter.domain.item_commands import CommandRejected
from postroom_converter.group_commit import GroupCommit
from postroom_converter.store import ConverterStore
from postroom_shared.consumer import subscribe
from postroom_shared.contracts import (
    ITEM_COMMANDS,
    ItemCommand,
    ItemCommandEnvelope,
    RecordSentMailV1,
)
from postroom_shared.errors import RejectedError
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.messaging import publish_event
from postroom_shared.retry import RetryPolicy
from postroom_shared.topology import COMMANDS, consumer_queue

__all__ = [
    "Applied",
    "apply_item_command",
    "record_sent_mail",
    "register_commands",
    "sent_mail_message",
    "sent_mail_write",
]


def register_commands(
    broker: RabbitBroker,
    store: ConverterStore,
    policy: RetryPolicy,
    *,
    signer: MessageIdSigner,
    commit: GroupCommit | None = None,
) -> None:
    """Consume the commands the converter owns, each from its own queue. `commit`: the group
    commit the sent mails' appends join (the converter's own, so that they share batches with
    its mails); a group commit of their own when none is given."""
    sent_mails = commit or GroupCommit(store, broker)

    async def on_record_sent_mail(command: RecordSentMailV1, final_attempt: bool) -> None:
        await record_sent_mail(sent_mails, command)

    async def on_item_command(command: ItemCommandEnvelope, final_attempt: bool) -> None:
        if not isinstance(command, ItemCommand):  # each queue validates into its own model
            raise TypeError(f"not an item command: {type(command).__name__}")
        try:
            await apply_item_command(store, broker, signer, command)
        except CommandRejected as rejected:
            await publish_event(broker, rejected_event(command, rejected))
            raise RejectedError(rejected.reason) from rejected

    subscribe(
        broker,
        consumer_queue("converter", RecordSentMailV1.model_fields["type"].default),
        COMMANDS,
        RecordSentMailV1,
        on_record_sent_mail,
        policy,
        description="Puts a mail Postroom sent on its item's thread (the converter owns items).",
    )
    for model in ITEM_COMMANDS:
        subscribe(
            broker,
            consumer_queue("converter", model.model_fields["type"].default),
            COMMANDS,
            model,
            on_item_command,
            policy,
            description=(model.__doc__ or "").split("\n")[0],
        )
