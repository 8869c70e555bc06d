"""Items created from mail, read-only."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request

from postroom_api.auth import RequireAdmin
from postroom_api.schemas import ItemDetail, ItemSummary, MessageView
from postroom_shared.store import Store

__all__ = ["router"]

router = APIRouter(prefix="/v1/items", tags=["items"], dependencies=[RequireAdmin])


@router.get("", summary="List items, newest first")
async def list_items(
    request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[ItemSummary]:
    store: Store = request.app.state.store
    return [ItemSummary.of(item) for item in await store.list_items(limit=limit)]


@router.get("/{item_id}", summary="One item with its thread", responses={404: {}})
async def get_item(request: Request, item_id: str) -> ItemDetail:
    store: Store = request.app.state.store
    item = await store.get_item(item_id)
    if item is None:
        raise HTTPException(status_code=404, detail="no such item")
    thread = [MessageView.of(m) for m in await store.list_messages(item_id)]
    return ItemDetail(
        **ItemSummary.of(item).model_dump(), description=item.description, thread=thread
    )
