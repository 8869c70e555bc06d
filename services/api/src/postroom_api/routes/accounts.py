"""Email accounts (read side; the full admin surface grows in the config-API issue)."""

from fastapi import APIRouter, Request

from postroom_api.auth import RequireAdmin
from postroom_api.schemas import AccountView
from postroom_shared.store import Store

__all__ = ["router"]

router = APIRouter(prefix="/v1/accounts", tags=["accounts"], dependencies=[RequireAdmin])


@router.get("", summary="List email accounts (secrets are never returned)")
async def list_accounts(request: Request) -> list[AccountView]:
    store: Store = request.app.state.store
    return [AccountView.of(account) for account in await store.list_accounts()]
