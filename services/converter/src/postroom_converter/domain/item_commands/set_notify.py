"""`item.set_notify.v1`: add people to an item's notification list and remove them.

Addresses are checked and lower-cased as everywhere else (the list is compared with senders);
asking to add and remove one address at once is ambiguous and refused.
"""

from postroom_converter.domain.item_commands.base import (
    Change,
    CommandRejected,
    Context,
    check_version,
    next_state,
)
from postroom_shared.contracts import SetNotifyV1
from postroom_shared.mail.address import address_problem, normalize_address
from postroom_shared.models import Item

__all__ = ["MAX_NOTIFY", "set_notify"]

MAX_NOTIFY = 200


def _addresses(values: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    for value in values:
        problem = address_problem(value)
        if problem is not None:
            raise CommandRejected(f"{value!r} is not a usable address: {problem}")
        address = normalize_address(value)
        if address not in found:
            found.append(address)
    return found


def set_notify(item: Item, command: SetNotifyV1, context: Context) -> Change:
    check_version(item, command)
    add, remove = _addresses(command.add), _addresses(command.remove)
    both = sorted(set(add) & set(remove))
    if both:
        raise CommandRejected(f"asked to add and remove {', '.join(both)} at once")
    notify = [a for a in item.notify if a not in remove] + [a for a in add if a not in item.notify]
    if len(notify) > MAX_NOTIFY:
        raise CommandRejected(f"a notification list holds at most {MAX_NOTIFY} addresses")
    if notify == item.notify:
        return Change(item, ())
    return Change(next_state(item, context.now, notify=notify), ("notify",))
