"""Working an item over HTTP: change it (PATCH), add a note or a team reply, set who is
notified. `agent` or `admin` keys.

Each request becomes item commands that run through the item owner's own write path,
`postroom_converter.ops.apply_item_command`, in this process (as quarantine reprocess does):
the same domain, store write and `item.updated.v1` as a command published to
`postroom.commands`, with the API key as the actor. Optimistic concurrency: `If-Match` with the
item's ETag (412 when it changed) or the body's `version` (409); without either the last writer
wins. An `Idempotency-Key` header makes the command ids, so a retried request changes nothing
twice (docs/security.md, docs/architecture.md "Config API").
"""

import asyncio
import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from faststream.rabbit import RabbitBroker

from postroom_api.auth import Principal, RequireWork
from postroom_api.deps import BrokerDep, BrokerReadyDep, SignerDep, StoreDep
from postroom_api.item_work import (
    Ids,
    Precondition,
    actor_of,
    command_fields,
    etag,
    notify_command,
    patch_commands,
    precondition,
)
from postroom_api.routes.items import deliveries, load_item
from postroom_api.routing import NOT_FOUND, PathId, SafeRoute, unprocessable
from postroom_api.schemas.item_work import (
    CommandResult,
    ItemPatch,
    NoteIn,
    NotifyIn,
    Refused,
    ReplyIn,
    WorkResult,
)
from postroom_api.schemas.items import ItemState, MessageView
from postroom_api.store import ApiStore
from postroom_converter import ops
from postroom_shared.contracts import (
    AddNoteV1,
    AddReplyV1,
    AddressV1,
    AttachmentRefV1,
    ItemCommand,
)
from postroom_shared.errors import TransientError
from postroom_shared.logs import get_logger
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.models import Item

__all__ = ["router"]

log = get_logger(__name__)
router = APIRouter(
    prefix="/v1/items", tags=["items"], route_class=SafeRoute, dependencies=[RequireWork]
)

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Any client-chosen printable string; repeating a request with the same key"
        " (e.g. after a lost answer) applies it once.",
    ),
]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=1000,
        description='The ETag of `GET /v1/items/{id}` (`"v<version>"`): changed since → 412.',
    ),
]
_RESPONSES: dict[int | str, dict[str, Any]] = {
    **NOT_FOUND,
    409: {"model": Refused, "description": "The item is not at the body's `version`."},
    412: {"model": Refused, "description": "The item's ETag is not the `If-Match` one."},
    422: {"description": "Invalid input, or the item refuses the change (`msg` says why)."},
    503: {"description": "The broker is unreachable; try again (same Idempotency-Key)."},
}


class _Refusal(Exception):
    """A request refused after the item was read; `response` is the answer."""

    def __init__(self, response: JSONResponse) -> None:
        self.response = response


def _refused(status_code: int, detail: str, version: int, done: list[CommandResult]) -> _Refusal:
    body = Refused(detail=detail, current_version=version, applied=done)
    return _Refusal(JSONResponse(body.model_dump(), status_code, headers={"ETag": etag(version)}))


Commands = Callable[[Item, Ids], list[ItemCommand]]
"""What a route asks of the item as read now, with the request's command ids."""


@dataclass
class Work:
    """One write request: the process's store, broker and signer, the caller, its
    preconditions and idempotency key, and the response whose headers get the ETag."""

    store: ApiStore
    broker: RabbitBroker
    ready: asyncio.Event
    signer: MessageIdSigner
    caller: Principal
    response: Response
    ids: Ids
    if_match: str | None

    async def run(self, item_id: str, version: int | None, commands: Commands) -> Any:
        """Read the item (404), check the preconditions (412), apply the commands and answer:
        the item as it is now, what each command did, the note or reply added."""
        if not (self.ready.is_set() and await self.broker.ping(timeout=2.0)):
            raise HTTPException(503, detail="the broker is unreachable; try again")
        item = await load_item(self.store, item_id)
        try:
            try:
                pre = precondition(self.if_match, version, item.version)
            except ValueError as exc:
                raise _refused(412, str(exc), item.version, []) from None
            asked = commands(item, self.ids)
            item, done, last = await self._apply(item, asked, pre)
        except _Refusal as refusal:
            return refusal.response
        self.response.headers["ETag"] = etag(item.version)
        message = None
        if last is not None and last.event is not None and last.event.thread_key:
            message = await self._message(item, last.event.thread_key)
        return WorkResult(item=ItemState.of(item), applied=done, message=message)

    async def _message(self, item: Item, key: str) -> MessageView | None:
        for entry in await self.store.list_messages(item.id):
            if entry.key == key:
                found = await deliveries(self.store, item, [entry])
                return MessageView.of(entry, f"/v1/items/{item.id}", found)
        return None

    async def _version(self, item: Item) -> int:
        now = await self.store.get_item(item.id)
        return (now or item).version

    async def _apply(
        self, item: Item, commands: list[ItemCommand], pre: Precondition
    ) -> tuple[Item, list[CommandResult], ops.Applied | None]:
        """Apply `commands` in order, each expecting the version the previous one left (when
        the caller named one); stop at the first refusal, whose answer names what was
        applied."""
        done: list[CommandResult] = []
        expected, last = pre.expected, None
        for command in commands:
            try:
                last = await ops.apply_item_command(
                    self.store,
                    self.broker,
                    self.signer,
                    command.model_copy(update={"expected_version": expected}),
                )
            except ops.VersionConflict as exc:
                code = pre.mismatch_status if pre.expected is not None else 409
                raise _refused(code, exc.reason, await self._version(item), done) from None
            except ops.CommandRejected as exc:
                if await self.store.get_item(item.id) is None:
                    raise HTTPException(404, detail=f"no item {item.id}") from None
                error = {"type": "command_rejected", "loc": ["body"], "msg": exc.reason}
                content = {
                    "detail": [error],
                    "current_version": await self._version(item),
                    "applied": [result.model_dump() for result in done],
                }
                raise _Refusal(JSONResponse(content, 422)) from None
            except TransientError as exc:
                log.warning("item command not applied", command=command.type, error=str(exc))
                raise HTTPException(
                    503, detail=f"try again (same Idempotency-Key): {exc}"
                ) from None
            event = last.event
            changes: list[str] = list(event.changes) if event else []
            done.append(
                CommandResult(
                    command=command.type,
                    command_id=str(command.command_id),
                    outcome=last.outcome,
                    changes=changes,
                )
            )
            item = last.item
            expected = item.version if expected is not None else None
        return item, done, last


async def _work(
    request: Request,
    store: StoreDep,
    broker: BrokerDep,
    ready: BrokerReadyDep,
    signer: SignerDep,
    caller: Annotated[Principal, RequireWork],
    response: Response,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> Work:
    ids = Ids(idempotency_key, f"{request.method} {request.url.path}")
    return Work(store, broker, ready, signer, caller, response, ids, if_match)


WorkDep = Annotated[Work, Depends(_work)]


@router.patch(
    "/{item_id}",
    summary="Change an item: status, workflow step, assignee, priority, fields",
    description="Each given part is an item command, applied in this order: status and"
    " workflow step, assignee, priority and fields. The answer lists what each did; when one"
    " is refused, those before it stay applied and the answer (409/412/422) lists them.",
    response_model=WorkResult,
    responses=_RESPONSES,
)
async def change_item(work: WorkDep, item_id: PathId, body: ItemPatch) -> Any:
    def commands(item: Item, ids: Ids) -> list[ItemCommand]:
        asked = patch_commands(item.id, body, actor_of(work.caller), ids)
        if not asked:
            what = "give status, workflow_step, assignee_id, priority or fields"
            raise unprocessable([((), f"nothing to change: {what}")])
        return asked

    return await work.run(item_id, body.version, commands)


@router.post(
    "/{item_id}/notes",
    status_code=status.HTTP_201_CREATED,
    summary="Add an internal note (never mailed)",
    response_model=WorkResult,
    responses=_RESPONSES,
)
async def add_note(work: WorkDep, item_id: PathId, body: NoteIn) -> Any:
    def commands(item: Item, ids: Ids) -> list[ItemCommand]:
        actor = actor_of(work.caller)
        fields = command_fields("item.add_note.v1", item.id, actor, ids)
        return [AddNoteV1(**fields, text=body.text)]

    return await work.run(item_id, body.version, commands)


async def _attachments(store: ApiStore, body: ReplyIn) -> tuple[AttachmentRefV1, ...]:
    """The reply's files into the blob store (named by their hash: a retry stores nothing
    new), as the references the command carries."""
    refs = []
    for index, file in enumerate(body.attachments):
        try:
            data = base64.b64decode(file.content_base64, validate=True)
        except binascii.Error:
            loc = ("attachments", index, "content_base64")
            raise unprocessable([(loc, "not valid base64")]) from None
        ref = await store.put_blob(data)
        refs.append(
            AttachmentRefV1(blob_ref=ref, filename=file.filename, content_type=file.content_type)
        )
    return tuple(refs)


@router.post(
    "/{item_id}/replies",
    status_code=status.HTTP_201_CREATED,
    summary="Reply to the requester (mailed from the account's address)",
    description="The reply is put on the thread with a signed Message-ID, the item token in"
    " the subject and In-Reply-To/References to the last mail; the replier mails it to `to`"
    " (default: the requester), and the thread shows its delivery per recipient. Attachments"
    " travel base64 in the JSON body, which is limited to 1 MiB as a whole.",
    response_model=WorkResult,
    responses=_RESPONSES,
)
async def add_reply(work: WorkDep, item_id: PathId, body: ReplyIn) -> Any:
    attachments = await _attachments(work.store, body)

    def commands(item: Item, ids: Ids) -> list[ItemCommand]:
        reply = AddReplyV1(
            **command_fields("item.add_reply.v1", item.id, actor_of(work.caller), ids),
            text=body.text,
            html=body.html,
            attachments=attachments,
            to=tuple(AddressV1(address=r.address, name=r.name) for r in body.to),
        )
        return [reply]

    return await work.run(item_id, body.version, commands)


@router.put(
    "/{item_id}/notify",
    summary="Set the item's notification list (the whole list)",
    description="The list is compared with the stored one: the answer's command adds the new"
    " addresses and removes the missing ones.",
    response_model=WorkResult,
    responses=_RESPONSES,
)
async def set_notify(work: WorkDep, item_id: PathId, body: NotifyIn) -> Any:
    def commands(item: Item, ids: Ids) -> list[ItemCommand]:
        return [notify_command(item.id, item.notify, body, actor_of(work.caller), ids)]

    return await work.run(item_id, body.version, commands)
