"""The item commands, one pure module each: (item, command, context) -> Change, or a
`CommandRejected` saying why not. `decide` picks the module by the command's type; the broker
consumer and the API's in-process call both come through it (one write path, two doors)."""

from postroom_converter.domain.item_commands.add_note import add_note
from postroom_converter.domain.item_commands.add_reply import add_reply, reply_key
from postroom_converter.domain.item_commands.assign import assign
from postroom_converter.domain.item_commands.base import (
    Change,
    CommandRejected,
    Context,
    ReplyContext,
    VersionConflict,
)
from postroom_converter.domain.item_commands.change_status import change_status
from postroom_converter.domain.item_commands.set_fields import set_fields
from postroom_converter.domain.item_commands.set_notify import set_notify
from postroom_shared.contracts import (
    AddNoteV1,
    AddReplyV1,
    AssignV1,
    ChangeStatusV1,
    ItemCommand,
    SetFieldsV1,
    SetNotifyV1,
)
from postroom_shared.models import Item

__all__ = [
    "Change",
    "CommandRejected",
    "Context",
    "ReplyContext",
    "VersionConflict",
    "applied_key",
    "decide",
    "reply_key",
]


def applied_key(command: ItemCommand) -> str:
    """The key under which the store remembers that `command` was applied."""
    return f"cmd:{command.command_id}"


def decide(item: Item, command: ItemCommand, context: Context) -> Change:
    """What `command` does to `item`; raises CommandRejected."""
    if item.id != command.item_id:
        raise CommandRejected(f"command for item {command.item_id} given item {item.id}")
    match command:
        case ChangeStatusV1():
            return change_status(item, command, context)
        case AssignV1():
            return assign(item, command, context)
        case SetFieldsV1():
            return set_fields(item, command, context)
        case SetNotifyV1():
            return set_notify(item, command, context)
        case AddNoteV1():
            return add_note(item, command, context)
        case AddReplyV1():
            return add_reply(item, command, context)
