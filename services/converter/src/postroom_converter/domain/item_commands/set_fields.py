"""`item.set_fields.v1`: set an item's priority and custom fields.

Field names follow the rule the account mapping uses for `fields.<name>` (lower-case, digits,
underscores), so a field set by hand and one set from mail are the same field.
"""

import re

from postroom_converter.domain.item_commands.base import (
    Change,
    CommandRejected,
    Context,
    check_version,
    next_state,
)
from postroom_shared.contracts import ItemChange, SetFieldsV1
from postroom_shared.models import Item

__all__ = ["MAX_FIELD_CHARS", "set_fields"]

_FIELD_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
MAX_FIELD_CHARS = 10_000
MAX_FIELDS = 100


def set_fields(item: Item, command: SetFieldsV1, context: Context) -> Change:
    check_version(item, command)
    for name, value in command.fields.items():
        if not _FIELD_NAME.fullmatch(name):
            raise CommandRejected(
                f"field name {name!r} must be lower-case letters, digits and '_' (max 63)"
            )
        if value is not None and len(value) > MAX_FIELD_CHARS:
            raise CommandRejected(f"field {name!r} is longer than {MAX_FIELD_CHARS} characters")
    fields = dict(item.fields)
    for name, value in command.fields.items():
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
    if len(fields) > MAX_FIELDS:
        raise CommandRejected(f"an item holds at most {MAX_FIELDS} custom fields")
    changes: list[ItemChange] = []
    priority = item.priority
    if command.priority is not None and (command.priority or None) != item.priority:
        priority = command.priority or None  # "" clears the priority
        changes.append("priority")
    if fields != item.fields:
        changes.append("fields")
    if not changes:
        return Change(item, ())
    return Change(next_state(item, context.now, priority=priority, fields=fields), tuple(changes))
