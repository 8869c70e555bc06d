"""Pure rules of the item write routes: which commands a request becomes, with which ids,
actor and expected version, and how an `If-Match` header is read.

The routes are thin doors onto the item's owner (`postroom_converter.ops.apply_item_command`,
the same write path as the broker's command consumers, docs/decisions.md "Item ownership"):
everything they decide before calling it is here, so it is tested without a server.
"""

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

from postroom_api.auth import Principal
from postroom_api.schemas.item_work import ItemPatch, NotifyIn
from postroom_shared.contracts import (
    ActorV1,
    AssignV1,
    ChangeStatusV1,
    ItemCommand,
    SetFieldsV1,
    SetNotifyV1,
)

__all__ = [
    "IDEMPOTENCY_NAMESPACE",
    "SOURCE",
    "CommandFields",
    "Ids",
    "Precondition",
    "actor_of",
    "command_fields",
    "etag",
    "notify_command",
    "patch_commands",
    "precondition",
]

SOURCE = "api"
IDEMPOTENCY_NAMESPACE = uuid.UUID("5b0c8a34-6f1e-4d2a-9c71-3e8f0b2d4a17")
_ETAG_RE = re.compile(r'^\s*(?:W/)?"v([1-9][0-9]{0,15})"\s*$')


def etag(version: int) -> str:
    """The ETag of an item at `version`; `If-Match` takes it back."""
    return f'"v{version}"'


def actor_of(principal: Principal) -> ActorV1:
    """Who the item's events name as the cause: the API key (keys belong to no person)."""
    return ActorV1(kind="api_key", id=principal.key_id, name=principal.name)


@dataclass(frozen=True)
class Ids:
    """Command ids of one request. With an `Idempotency-Key` they are derived from it, the
    route and the command, so a client that repeats a request (after a lost answer) repeats
    the same commands, which the owner applies once; without one each command is new."""

    idempotency_key: str | None
    route: str  # method and path, e.g. "POST /v1/items/it_1/replies"

    def for_command(self, command_type: str) -> uuid.UUID:
        if self.idempotency_key is None:
            return uuid.uuid4()
        name = f"{self.idempotency_key}\x00{self.route}\x00{command_type}"
        return uuid.uuid5(IDEMPOTENCY_NAMESPACE, name)


class CommandFields(TypedDict):
    """The envelope of an item command asked through the API."""

    command_id: uuid.UUID
    item_id: str
    actor: ActorV1
    source: str


def command_fields(kind: str, item_id: str, actor: ActorV1, ids: Ids) -> CommandFields:
    return CommandFields(
        command_id=ids.for_command(kind), item_id=item_id, actor=actor, source=SOURCE
    )


@dataclass(frozen=True)
class Precondition:
    """The version a write expects, and which answer a mismatch gets: 412 when it came from
    `If-Match`, 409 when from the body's `version`."""

    expected: int | None
    from_header: bool = False

    @property
    def mismatch_status(self) -> int:
        return 412 if self.from_header else 409


def precondition(if_match: str | None, body_version: int | None, current: int) -> Precondition:
    """What a write expects of the item now at `current`.

    `If-Match: *` or no header: the body's `version` (or nothing). An `If-Match` naming the
    current ETag (one of a comma-separated list) expects `current`, checked again atomically
    when the change is written. ValueError (the route answers 412) when it names no current
    ETag (another version, or a value that is no ETag of ours) or when the body's `version`
    says otherwise.
    """
    if if_match is None or if_match.strip() == "*":
        return Precondition(body_version)
    versions = {int(m.group(1)) for tag in if_match.split(",") if (m := _ETAG_RE.match(tag))}
    if current not in versions:
        raise ValueError(f"If-Match {if_match.strip()[:100]!r} is not the item's ETag now")
    if body_version is not None and body_version != current:
        raise ValueError(f"If-Match names version {current}, the body version {body_version}")
    return Precondition(current, from_header=True)


def patch_commands(item_id: str, patch: ItemPatch, actor: ActorV1, ids: Ids) -> list[ItemCommand]:
    """The commands a PATCH asks for, in the order they are applied: status and workflow step,
    then the assignee, then priority and fields. `expected_version` is left unset: the route
    chains it from one command's result to the next."""
    given = patch.model_fields_set
    commands: list[ItemCommand] = []
    if patch.status is not None or patch.workflow_step is not None:
        commands.append(
            ChangeStatusV1(
                **command_fields("item.change_status.v1", item_id, actor, ids),
                status=patch.status,
                workflow_step=patch.workflow_step,
            )
        )
    if "assignee_id" in given:
        fields = command_fields("item.assign.v1", item_id, actor, ids)
        commands.append(AssignV1(**fields, assignee_id=patch.assignee_id))
    priority = patch.priority
    if "priority" in given and priority is None:
        priority = ""  # an explicit null clears it, as "" does
    if priority is not None or patch.fields:
        commands.append(
            SetFieldsV1(
                **command_fields("item.set_fields.v1", item_id, actor, ids),
                priority=priority,
                fields=patch.fields or {},
            )
        )
    return commands


def notify_command(
    item_id: str, current: Sequence[str], wanted: NotifyIn, actor: ActorV1, ids: Ids
) -> SetNotifyV1:
    """The notification list `wanted` as a change of the `current` one: who is added, who is
    removed (addresses arrive lower-cased from the schema)."""
    target = list(dict.fromkeys(wanted.addresses))
    return SetNotifyV1(
        **command_fields("item.set_notify.v1", item_id, actor, ids),
        add=tuple(a for a in target if a not in current),
        remove=tuple(a for a in current if a not in target),
    )
