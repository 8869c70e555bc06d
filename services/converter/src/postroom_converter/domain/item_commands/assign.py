"""`item.assign.v1`: give an item to a user to work on, or take it back.

Only people of kind `user` work items; customers and contacts are whom the work is for.
"""

from postroom_converter.domain.item_commands.base import (
    Change,
    CommandRejected,
    Context,
    check_version,
    next_state,
)
from postroom_shared.contracts import AssignV1
from postroom_shared.models import Item

__all__ = ["assign"]


def assign(item: Item, command: AssignV1, context: Context) -> Change:
    check_version(item, command)
    wanted = command.assignee_id
    if wanted is not None:
        person = context.person
        if person is None or person.id != wanted:
            raise CommandRejected(f"no person {wanted!r} to assign {item.token} to")
        if person.kind != "user":
            raise CommandRejected(f"{wanted!r} is a {person.kind}, not a user: cannot assign")
    if wanted == item.assignee_id:
        return Change(item, ())
    return Change(next_state(item, context.now, assignee_id=wanted), ("assignee",))
