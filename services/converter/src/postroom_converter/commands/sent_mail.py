"""The converter owns items and their threads; other services ask it to change them with
commands, never by writing the store themselves (docs/decisions.md, "One owner for the item").

`item.record_sent_mail.v1` (from the replier, after an automatic mail went out) puts the sent
mail on its item's thread. The mail's Message-ID keys the thread entry (`out:<Message-ID>`,
the key outbound entries always had), and the store appends a key once, so a redelivered or
repeated command adds nothing; the command is acked only after the store write. A command
for an item that does not exist cannot succeed later: it is parked in the command queue's DLQ
after one more try.

There is one such command per auto-reply, so the append goes through the converter's group
commit (`group_commit.py`) as an `AppendedMessage` without events: commands (and mails)
handled side by side share one store call, one transaction on SQLite, and each handler still
returns only once its own append is committed. A failing append fails its command alone.
"""

from postroom_converter.group_commit import GroupCommit
from postroom_shared.contracts import RecordSentMailV1
from postroom_shared.errors import PermanentError
from postroom_shared.logs import bind, get_logger
from postroom_shared.models import Party, ThreadMessage
from postroom_shared.store.ports import AppendedMessage

__all__ = ["record_sent_mail", "sent_mail_message", "sent_mail_write"]

log = get_logger(__name__)


def sent_mail_message(command: RecordSentMailV1) -> ThreadMessage:
    """The thread entry of a sent mail (outbound mail keeps no raw bytes)."""
    return ThreadMessage(
        key=f"out:{command.message_id}",
        item_id=command.item_id,
        account_id=command.account_id,
        direction="out",
        message_id=command.message_id,
        in_reply_to=list(command.in_reply_to),
        subject=command.subject,
        sender=Party(address=command.sender.address, name=command.sender.name),
        to=[Party(address=to.address, name=to.name) for to in command.to],
        kind=command.kind,
        created_at=command.sent_at,
    )


def sent_mail_write(command: RecordSentMailV1) -> AppendedMessage:
    """The append the command asks for: counted on the item, no new participants, no event
    (the replier announced the send itself with `reply.sent.v1`)."""
    return AppendedMessage(command.item_id, sent_mail_message(command), [], add_participants=[])


async def record_sent_mail(commit: GroupCommit, command: RecordSentMailV1) -> bool:
    """Append the sent mail to its item's thread; False when it is there already."""
    with bind(correlation_id=command.correlation_id, command_id=str(command.command_id)):
        try:
            appended = await commit.write(sent_mail_write(command))
        except KeyError as exc:
            raise PermanentError(f"no item {command.item_id} to record a sent mail on") from exc
        log.info(
            "sent mail recorded on the thread" if appended else "sent mail was recorded before",
            item=command.item_id,
            message_id=command.message_id,
        )
        return appended
