"""Items, read: filtered listing with an opaque cursor, one item with its thread (and its ETag,
for If-Match on the write routes in `item_work.py`), and the stored bytes behind it
(attachments, raw mail)."""

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Response
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError

from postroom_api.auth import RequireItemRead
from postroom_api.deps import StoreDep
from postroom_api.item_work import etag
from postroom_api.routing import NOT_FOUND, UNPROCESSABLE, PathId, SafeRoute, not_found
from postroom_api.schemas import ItemDetail, ItemPage, ItemSummary
from postroom_api.schemas.common import ID_PATTERN
from postroom_api.schemas.items import (
    Deliveries,
    DeliveryView,
    message_ref,
    recipients,
)
from postroom_api.store import ApiStore
from postroom_replier import ops as replier_ops
from postroom_shared.models import Item, ItemType, ThreadMessage
from postroom_shared.store import ItemQuery

__all__ = [
    "blob_response",
    "decode_cursor",
    "deliveries",
    "encode_cursor",
    "find_message",
    "load_item",
    "router",
]

router = APIRouter(
    prefix="/v1/items", tags=["items"], route_class=SafeRoute, dependencies=[RequireItemRead]
)

_MESSAGE_REF = r"^m_[0-9a-f]{24}$"
_MIME_PART = r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
_CONTENT_TYPE_RE = re.compile(rf"^{_MIME_PART}/{_MIME_PART}$")
_BYTES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"*/*": {}},
        "description": "The bytes, with the attachment's own content type (a valid one, else"
        " application/octet-stream), as a download.",
    }
}


def encode_cursor(item: Item) -> str:
    at = item.created_at.astimezone(UTC).isoformat()
    return base64.urlsafe_b64encode(f"{at}|{item.id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """(created_at, id) of the last item seen; ValueError for anything not made by
    `encode_cursor`."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("not a cursor from this API") from None
    at_text, _, item_id = text.partition("|")
    try:
        at = datetime.fromisoformat(at_text)
    except ValueError:
        raise ValueError("not a cursor from this API") from None
    if at.tzinfo is None or not re.match(ID_PATTERN, item_id):
        raise ValueError("not a cursor from this API")
    try:
        return at.astimezone(UTC), item_id
    except OverflowError:
        raise ValueError("not a cursor from this API") from None


_Filter = Annotated[str | None, Query(min_length=1, max_length=200)]


@router.get(
    "",
    summary="List items, newest first, with filters and cursor pagination",
    responses=UNPROCESSABLE,
)
async def list_items(
    store: StoreDep,
    account_id: _Filter = None,
    type: Annotated[ItemType | None, Query(description="Item type.")] = None,
    status: _Filter = None,
    project: _Filter = None,
    requester: Annotated[
        str | None,
        Query(min_length=1, max_length=320, description="Requester address or person id."),
    ] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Text in the title.")
    ] = None,
    cursor: Annotated[
        str | None,
        Query(max_length=400, description="`next_cursor` of the previous page."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ItemPage:
    before = None
    if cursor:
        try:
            before = decode_cursor(cursor)
        except ValueError as exc:
            raise RequestValidationError(
                [{"type": "value_error", "loc": ("query", "cursor"), "msg": str(exc)}]
            ) from None
    query = ItemQuery(
        account_id=account_id,
        item_type=type,
        status=status,
        project=project,
        requester=requester,
        text=q,
        before=before,
        limit=limit + 1,
    )
    items = await store.query_items(query)
    page, more = items[:limit], len(items) > limit
    return ItemPage(
        items=[ItemSummary.of(item) for item in page],
        next_cursor=encode_cursor(page[-1]) if more else None,
    )


async def load_item(store: ApiStore, item_id: str) -> Item:
    item = await store.get_item(item_id)
    if item is None:
        raise not_found(f"no item {item_id}")
    return item


async def deliveries(store: ApiStore, item: Item, messages: list[ThreadMessage]) -> Deliveries:
    """The delivery of each team reply among `messages`, per recipient, from the replier's
    ledger (one small read per recipient; replies name at most 50)."""
    found: dict[str, list[DeliveryView]] = {}
    for message in messages:
        if message.direction == "out" and message.kind == "team_reply":
            reason = replier_ops.team_reply_ledger_reason(message.key)
            found[message.key] = [
                DeliveryView.of(to, await store.get_ledger(item.id, reason, to))
                for to in recipients(message)
            ]
    return found


@router.get(
    "/{item_id}",
    summary="One item with its thread",
    description='The `ETag` header (`"v<version>"`) goes into `If-Match` of a write.',
    responses={
        200: {"headers": {"ETag": {"schema": {"type": "string"}, "description": "The version."}}},
        **NOT_FOUND,
    },
)
async def get_item(store: StoreDep, item_id: PathId, response: Response) -> ItemDetail:
    item = await load_item(store, item_id)
    messages = await store.list_messages(item_id)
    response.headers["ETag"] = etag(item.version)
    found = await deliveries(store, item, messages)
    return ItemDetail.with_thread(item, messages, f"/v1/items/{item_id}", found)


async def find_message(store: ApiStore, item_id: str, ref: str) -> ThreadMessage | None:
    """The message `ref` of the item (404 when there is no such item), or None."""
    await load_item(store, item_id)
    for message in await store.list_messages(item_id):
        if message_ref(message) == ref:
            return message
    return None


async def _message(store: ApiStore, item_id: str, ref: str) -> ThreadMessage:
    message = await find_message(store, item_id, ref)
    if message is None:
        raise not_found(f"no message {ref} on item {item_id}")
    return message


def _safe_filename(name: str, fallback: str) -> tuple[str, str]:
    """An ASCII filename for `filename=` and the UTF-8 one for `filename*=` (RFC 6266)."""
    name = re.sub(r"[\x00-\x1f\x7f/\\]", "_", name).strip(" .") or fallback
    name = name[:200]
    ascii_name = re.sub(r"[^A-Za-z0-9 ._()+-]", "_", name) or fallback
    return ascii_name, quote(name, safe="", errors="replace")


async def blob_response(
    store: ApiStore, blob_ref: str, *, content_type: str, filename: str, fallback: str
) -> Response:
    """Stored bytes as a download: never rendered inline by a browser."""
    try:
        data = await store.get_blob(blob_ref)
    except KeyError:
        raise not_found("the stored bytes are gone") from None
    ascii_name, utf8_name = _safe_filename(filename, fallback)
    if not _CONTENT_TYPE_RE.match(content_type):
        content_type = "application/octet-stream"
    return Response(
        content=data,
        media_type=content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{ascii_name}";'
            f" filename*=UTF-8''{utf8_name}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
        },
    )


@router.get(
    "/{item_id}/messages/{message_id}/attachments/{index}",
    summary="Download an attachment of a thread message",
    responses={**_BYTES, **NOT_FOUND},
    response_class=Response,
)
async def download_attachment(
    store: StoreDep,
    item_id: PathId,
    message_id: Annotated[str, PathParam(pattern=_MESSAGE_REF)],
    index: Annotated[int, PathParam(ge=0, le=10_000)],
) -> Response:
    message = await _message(store, item_id, message_id)
    if index >= len(message.attachments):
        raise not_found(f"message {message_id} has no attachment {index}")
    attachment = message.attachments[index]
    return await blob_response(
        store,
        attachment.blob_ref,
        content_type=attachment.content_type,
        filename=attachment.filename,
        fallback=f"attachment-{index}",
    )


@router.get(
    "/{item_id}/messages/{message_id}/raw",
    summary="Download a thread message as received (.eml)",
    description="404 for messages whose raw bytes were not stored (Postroom's own outbound"
    " mail is recorded without them).",
    responses={200: {"content": {"message/rfc822": {}}}, **NOT_FOUND},
    response_class=Response,
)
async def download_raw(
    store: StoreDep,
    item_id: PathId,
    message_id: Annotated[str, PathParam(pattern=_MESSAGE_REF)],
) -> Response:
    message = await _message(store, item_id, message_id)
    if not message.blob_ref:
        raise not_found(f"the raw mail of message {message_id} is not stored")
    return await blob_response(
        store,
        message.blob_ref,
        content_type="message/rfc822",
        filename=f"{message_id}.eml",
        fallback="message.eml",
    )
