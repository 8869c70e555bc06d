"""An item's page: the item, its thread (mail HTML only inside a sandboxed iframe served by
`mail_frame`, never inline), attachments, and the forms that work it: reply, internal note,
status/step/assignee, notification list.

Reads call the JSON route's own function (`routes.items.get_item`); every write runs through
the same item write path as PATCH/notes/replies/notify (`item_writer.Work`, which applies the
commands through the owner's `ops.apply_item_command`) at the version the form was rendered
with: a stale form says so and shows the item as it is now.
"""

import asyncio
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from faststream.rabbit import RabbitBroker
from pydantic import ValidationError

from postroom_api.console.access import ItemReaderDep, WorkerDep
from postroom_api.console.pages import MAIL_FRAME_HEADERS, render
from postroom_api.console.session import Visitor
from postroom_api.deps import BrokerDep, BrokerReadyDep, SignerDep, StoreDep
from postroom_api.item_work import Ids, actor_of, command_fields, notify_command, patch_commands
from postroom_api.item_writer import Commands, Work
from postroom_api.routes.items import download_attachment, find_message, get_item, load_item
from postroom_api.routing import PathId
from postroom_api.schemas.item_work import ItemPatch, NoteIn, NotifyIn, ReplyIn
from postroom_api.store import ApiStore
from postroom_shared.contracts import AddNoteV1, AddReplyV1, ItemCommand
from postroom_shared.mail.msgid import MessageIdSigner
from postroom_shared.models import Item

__all__ = ["router"]

router = APIRouter(prefix="/ui/items", include_in_schema=False)
_Text = Annotated[str, Form(max_length=500_000)]
_Version = Annotated[int, Form(ge=1)]
_Nonce = Annotated[str, Form(min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$")]


async def _page(
    request: Request, store: Any, item_id: str, status_code: int = 200, **notice: str
) -> HTMLResponse:
    detail = await get_item(store, item_id, Response())
    nonce = secrets.token_urlsafe(12)  # the forms' idempotency key: a resent form applies once
    return render(request, "item.html", status_code, item=detail, nonce=nonce, **notice)


@router.get("/{item_id}")
async def item_page(
    request: Request, visitor: ItemReaderDep, store: StoreDep, item_id: PathId
) -> HTMLResponse:
    return await _page(request, store, item_id)


@router.get("/{item_id}/messages/{ref}/html")
async def mail_frame(
    visitor: ItemReaderDep,
    store: StoreDep,
    item_id: PathId,
    ref: Annotated[str, PathParam(pattern=r"^m_[0-9a-f]{24}$")],
) -> HTMLResponse:
    """One message's HTML for the item page's sandboxed iframe."""
    message = await find_message(store, item_id, ref)
    if message is None or not message.html:
        return HTMLResponse("", status_code=404, headers=MAIL_FRAME_HEADERS)
    return HTMLResponse(message.html, headers=MAIL_FRAME_HEADERS)


@dataclass
class Writer:
    """What a write form needs: the request, the visitor (agent or admin), and the item
    write path's parts."""

    request: Request
    visitor: Visitor
    store: ApiStore
    broker: RabbitBroker
    ready: asyncio.Event
    signer: MessageIdSigner

    async def page(self, item_id: str, status_code: int, error: str) -> Response:
        return await _page(self.request, self.store, item_id, status_code, error=error)

    async def invalid(self, item_id: str, exc: ValidationError) -> Response:
        return await self.page(item_id, 422, "; ".join(str(e["msg"]) for e in exc.errors()))

    async def run(self, item_id: str, version: int, nonce: str, commands: Commands) -> Response:
        """Run `commands` through the item write path; back to the page, or the page again
        with what went wrong (a stale version: the fresh item and a note saying so)."""
        ids = Ids(nonce, f"POST {self.request.url.path}")  # a form sent twice applies once
        principal = self.visitor.principal
        work = Work(
            self.store, self.broker, self.ready, self.signer, principal, Response(), ids, None
        )
        result = await work.run(item_id, version, commands)
        if not isinstance(result, JSONResponse):
            return RedirectResponse(f"/ui/items/{item_id}#thread", status_code=303)
        if result.status_code in (409, 412):
            stale = "the item changed since this page was loaded; here it is as it is now"
            return await self.page(item_id, 409, stale)
        return await self.page(item_id, result.status_code, bytes(result.body).decode()[:500])


@router.get("/{item_id}/messages/{ref}/attachments/{index}")
async def attachment(
    visitor: ItemReaderDep,
    store: StoreDep,
    item_id: PathId,
    ref: Annotated[str, PathParam(pattern=r"^m_[0-9a-f]{24}$")],
    index: Annotated[int, PathParam(ge=0, le=10_000)],
) -> Response:
    """A download, through the JSON route's own function (never shown inline)."""
    return await download_attachment(store, item_id, ref, index)


async def _writer(
    request: Request,
    visitor: WorkerDep,
    store: StoreDep,
    broker: BrokerDep,
    ready: BrokerReadyDep,
    signer: SignerDep,
) -> Writer:
    return Writer(request, visitor, store, broker, ready, signer)


WriterDep = Annotated[Writer, Depends(_writer)]


@dataclass(frozen=True)
class TextForm:
    """A reply's or a note's form: the text, the version it was written against, the nonce."""

    text: str
    version: int
    nonce: str


async def _text_form(text: _Text, version: _Version, nonce: _Nonce) -> TextForm:
    return TextForm(text, version, nonce)


TextFormDep = Annotated[TextForm, Depends(_text_form)]
_TextSchema = type[ReplyIn] | type[NoteIn]
_TextCommand = type[AddReplyV1] | type[AddNoteV1]


async def _add_text(
    w: Writer, item_id: str, form: TextForm, schema: _TextSchema, command: _TextCommand
) -> Response:
    """A reply or a note: the JSON API's own body rules, then one command of `command`'s kind."""
    try:
        body = schema(text=form.text, version=form.version)
    except ValidationError as exc:
        return await w.invalid(item_id, exc)
    kind = str(command.model_fields["type"].default)

    def commands(item: Item, ids: Ids) -> list[ItemCommand]:
        fields = command_fields(kind, item.id, actor_of(w.visitor.principal), ids)
        return [command(**fields, text=body.text)]

    return await w.run(item_id, form.version, form.nonce, commands)


@router.post("/{item_id}/reply")
async def reply(w: WriterDep, item_id: PathId, form: TextFormDep) -> Response:
    return await _add_text(w, item_id, form, ReplyIn, AddReplyV1)


@router.post("/{item_id}/note")
async def note(w: WriterDep, item_id: PathId, form: TextFormDep) -> Response:
    return await _add_text(w, item_id, form, NoteIn, AddNoteV1)


@router.post("/{item_id}/change")
async def change(
    w: WriterDep,
    item_id: PathId,
    version: _Version,
    nonce: _Nonce,
    status: Annotated[str, Form(max_length=200)] = "",
    workflow_step: Annotated[str, Form(max_length=200)] = "",
    assignee_id: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    current = await load_item(w.store, item_id)
    asked: dict[str, Any] = {"version": version}
    if status.strip() and status.strip() != current.status:
        asked["status"] = status.strip()
    if workflow_step.strip() and workflow_step.strip() != current.workflow_step:
        asked["workflow_step"] = workflow_step.strip()
    if (assignee_id.strip() or None) != current.assignee_id:
        asked["assignee_id"] = assignee_id.strip() or None
    try:
        patch = ItemPatch(**asked)
    except ValidationError as exc:
        return await w.invalid(item_id, exc)

    def commands(item: Item, ids: Ids) -> list[ItemCommand]:
        return patch_commands(item.id, patch, actor_of(w.visitor.principal), ids)

    if len(asked) == 1:  # nothing differs from the item: nothing to apply
        return RedirectResponse(f"/ui/items/{item_id}", status_code=303)
    return await w.run(item_id, version, nonce, commands)


@router.post("/{item_id}/notify")
async def notify(
    w: WriterDep,
    item_id: PathId,
    version: _Version,
    nonce: _Nonce,
    addresses: Annotated[str, Form(max_length=50_000)] = "",
) -> Response:
    wanted = [a for a in addresses.replace(",", "\n").split() if a]
    try:
        body = NotifyIn(addresses=wanted, version=version)
    except ValidationError as exc:
        return await w.invalid(item_id, exc)

    def commands(item: Item, ids: Ids) -> list[ItemCommand]:
        return [notify_command(item.id, item.notify, body, actor_of(w.visitor.principal), ids)]

    return await w.run(item_id, version, nonce, commands)
