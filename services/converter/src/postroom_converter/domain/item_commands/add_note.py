"""`item.add_note.v1`: an internal note on an item's thread.

A note is for the team: direction "note", no addresses, so nothing ever mails it. Its thread
key is the command's (`cmd:<command id>`), so asking twice adds it once.
"""

from postroom_converter.domain.item_commands.base import (
    Change,
    CommandRejected,
    Context,
    check_version,
    next_state,
)
from postroom_shared.contracts import AddNoteV1
from postroom_shared.models import Item, ThreadMessage

__all__ = ["add_note", "command_key"]


def command_key(command: AddNoteV1) -> str:
    return f"cmd:{command.command_id}"


def add_note(item: Item, command: AddNoteV1, context: Context) -> Change:
    check_version(item, command)
    text = command.text.strip()
    if not text:
        raise CommandRejected("a note needs text")
    note = ThreadMessage(
        key=command_key(command),
        item_id=item.id,
        account_id=item.account_id,
        direction="note",
        kind="note",
        text=text,
        author_id=command.actor.id,
        date=context.now,
        created_at=context.now,
    )
    return Change(next_state(item, context.now), ("note_added",), note)
