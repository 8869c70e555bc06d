"""The people behind the addresses the replier writes to: who made a change (never notified
of it) and which addresses carry a bounce mark (no automatic mail until an admin clears it).
Both are store reads for the pure rules in `domain/notify_rules.py`."""

from collections.abc import Iterable

from postroom_replier.domain.notify_rules import bounce_note
from postroom_shared.contracts import ActorV1
from postroom_shared.store.ports import ConfigReader

__all__ = ["actor_addresses", "actor_name", "bounced_addresses"]


async def actor_addresses(store: ConfigReader, actor: ActorV1 | None) -> set[str]:
    """The addresses of whoever made a change: the sender of a mail, a user's addresses; an
    API key or a service has none."""
    if actor is None:
        return set()
    if actor.kind == "mail":
        return {actor.id.lower()}
    if actor.kind == "user":
        person = await store.get_person(actor.id)
        return {address.lower() for address in person.emails} if person else set()
    return set()


async def bounced_addresses(store: ConfigReader, addresses: Iterable[str]) -> dict[str, str]:
    """Of `addresses` (lower-cased), those whose person carries a bounce mark for that very
    address, each with what the mark says."""
    marks: dict[str, str] = {}
    for address in dict.fromkeys(addresses):
        person = await store.find_person(address)
        mark = person.bounce if person is not None else None
        if mark is not None and mark.address.lower() == address:
            marks[address] = bounce_note(mark)
    return marks


def actor_name(actor: ActorV1 | None) -> str:
    """How mail names who made a change: a name when known, else an address or a service (an
    API key's or a user's id says nothing to a reader)."""
    if actor is None:
        return ""
    return actor.name or (actor.id if actor.kind in ("mail", "service") else "")
