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

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request, Response, status

from postroom_api.auth import Principal, RequireWork
from postroom_api.deps import BrokerDep, BrokerReadyDep, SignerDep, StoreDep
from postroom_api.item_work import (
    Ids,
    actor_of,
    command_fields,
    notify_command,
    patch_commands,
)
from postroom_api.item_writer import Work
from postroom_api.routing import NOT_FOUND, PathId, SafeRoute, unprocessable
from postroom_api.schemas.item_work import (
    ItemPatch,
    NoteIn,
    NotifyIn,
    Refused,
    ReplyIn,
    WorkResult,
)
from postroom_api.store import ApiStore
from postroom_shared.contracts import (
    AddNoteV1,
    AddReplyV1,
    AddressV1,
    AttachmentRefV1,
    ItemCommand,
)
from postroom_shared.models import Item

__all__ = ["router"]

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
        except ValueError:  # binascii.Error, or characters outside ASCII
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
