"""The one write path of item commands, for both doors: the broker consumer and the API's
in-process call (`ops.apply_item_command`) run exactly this.

Order, chosen so a redelivery or a crash is harmless: read the item; if the command was
applied before, only publish its leftover event (idempotent by command id); gather what the
pure domain needs (workflow, person, account, thread, attachments), decide; write the item's
next state, its thread entry and its `item.updated.v1` in one store call at the version it was
read at; publish the event. A write that lost a race with another change is decided again on a
fresh read, unless the caller named the version it saw: then the conflict is its answer.
"""

import hashlib
import uuid
from dataclasses import dataclass
from typing import Literal

from faststream.rabbit import RabbitBroker

from postroom_converter.domain.item_commands import (
    Change,
    CommandRejected,
    Context,
    ReplyContext,
    VersionConflict,
    applied_key,
    decide,
)
from postroom_converter.store import ConverterStore
from postroom_shared.contracts import (
    AddReplyV1,
    AssignV1,
    ChangeStatusV1,
    ItemCommand,
    ItemCommandRejectedV1,
    ItemUpdatedV1,
    deterministic_event_id,
    item_ref,
)
from postroom_shared.logs import bind, get_logger
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.messaging import relay_outbox, to_outbox
from postroom_shared.models import Item, StoredAttachment, utcnow
from postroom_shared.store.ports.blobs import blob_digest

__all__ = ["MAX_TRIES", "SOURCE", "Applied", "apply_item_command", "rejected_event"]

SOURCE = "converter"
MAX_TRIES = 5  # fresh reads after lost races, for a caller that named no version
log = get_logger(__name__)


@dataclass(frozen=True)
class Applied:
    """The item after the command, and the event that announced the change (None when the
    command changed nothing or was applied before)."""

    item: Item
    outcome: Literal["applied", "duplicate", "unchanged"]
    event: ItemUpdatedV1 | None = None


def _event_id(command: ItemCommand, kind: str) -> uuid.UUID:
    return deterministic_event_id(kind, str(command.command_id))


def updated_event(command: ItemCommand, change: Change) -> ItemUpdatedV1:
    return ItemUpdatedV1(
        event_id=_event_id(command, "item.updated.v1"),
        source=SOURCE,
        correlation_id=command.correlation_id or f"cmd:{command.command_id}",
        causation_id=command.causation_id,
        item=item_ref(change.item),
        changes=change.changes,
        actor=command.actor,
        command_id=command.command_id,
        version=change.item.version,
        thread_key=change.message.key if change.message else None,
    )


def rejected_event(command: ItemCommand, rejected: CommandRejected) -> ItemCommandRejectedV1:
    return ItemCommandRejectedV1(
        event_id=_event_id(command, "item.command_rejected.v1"),
        source=SOURCE,
        correlation_id=command.correlation_id or f"cmd:{command.command_id}",
        causation_id=command.causation_id,
        command_id=command.command_id,
        command_type=command.type,
        item_id=command.item_id,
        actor=command.actor,
        reason=rejected.reason,
        conflict=rejected.conflict,
    )


async def _attachments(store: ConverterStore, command: AddReplyV1) -> list[StoredAttachment]:
    found = []
    for ref in command.attachments:
        try:
            digest, data = blob_digest(ref.blob_ref), await store.get_blob(ref.blob_ref)
        except KeyError as exc:
            raise CommandRejected(f"attachment {ref.filename!r}: no blob {ref.blob_ref}") from exc
        found.append(
            StoredAttachment(
                filename=ref.filename,
                content_type=ref.content_type,
                size=len(data),
                sha256=digest,
                blob_ref=ref.blob_ref,
            )
        )
    return found


async def _reply_context(
    store: ConverterStore, signer: MessageIdSigner, item: Item, command: AddReplyV1
) -> ReplyContext:
    account = await store.get_account(item.account_id)
    if account is None:
        raise CommandRejected(f"the account of item {item.token} is gone: no reply can be sent")
    nonce = hashlib.sha256(str(command.command_id).encode()).hexdigest()[:24]
    inbound = [m for m in await store.list_messages(item.id) if m.direction == "in"]
    return ReplyContext(
        account=account,
        # from the command id: a repeated command makes the same Message-ID, the same entry
        message_id=signer.make(item.id, nonce, domain=account.address.rsplit("@", 1)[-1]),
        last_inbound=inbound[-1] if inbound else None,
        attachments=tuple(await _attachments(store, command)),
    )


async def _context(
    store: ConverterStore, signer: MessageIdSigner, item: Item, command: ItemCommand
) -> Context:
    context = Context(now=utcnow())
    if isinstance(command, ChangeStatusV1) and item.workflow_id:
        return Context(now=context.now, workflow=await store.get_workflow(item.workflow_id))
    if isinstance(command, AssignV1) and command.assignee_id:
        return Context(now=context.now, person=await store.get_person(command.assignee_id))
    if isinstance(command, AddReplyV1):
        return Context(now=context.now, reply=await _reply_context(store, signer, item, command))
    return context


async def apply_item_command(
    store: ConverterStore, broker: RabbitBroker, signer: MessageIdSigner, command: ItemCommand
) -> Applied:
    """Apply `command` once; raises CommandRejected (VersionConflict for a stale version)."""
    key = applied_key(command)
    event_id = str(_event_id(command, "item.updated.v1"))
    with bind(item=command.item_id, command=command.type, command_id=str(command.command_id)):
        for _ in range(MAX_TRIES):
            item = await store.get_item(command.item_id)
            if item is None:
                raise CommandRejected(f"no item {command.item_id}")
            if await store.change_applied(key):
                await relay_outbox(broker, store, only={event_id})
                return Applied(item, "duplicate")
            change = decide(item, command, await _context(store, signer, item, command))
            if not change.changes:
                return Applied(item, "unchanged")
            event = updated_event(command, change)
            try:
                result = await store.apply_change(
                    item.id,
                    expected_version=item.version,
                    applied_key=key,
                    new_state=change.item,
                    message=change.message,
                    events=[to_outbox(event)],
                )
            except KeyError as exc:
                raise CommandRejected(f"no item {command.item_id}") from exc
            if result != "conflict":
                await relay_outbox(broker, store, only={event_id})
                log.info("item command " + result, changes=list(change.changes))
                return (
                    Applied(change.item, "applied", event)
                    if result == "applied"
                    else Applied(item, "duplicate")
                )
            if command.expected_version is not None:
                raise VersionConflict(f"item {item.token} changed while the command was applied")
        raise VersionConflict(f"item {command.item_id} kept changing; read it again and retry")
