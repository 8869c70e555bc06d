"""API keys: create (the key is shown once), list, revoke. Admin scope only."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Response, status
from pydantic import AwareDatetime, BaseModel, Field

from postroom_api.auth import RequireAdmin
from postroom_api.deps import StoreDep
from postroom_api.routing import SafeRoute
from postroom_api.schemas.common import View
from postroom_shared.apikeys import new_api_key
from postroom_shared.models import ApiKey, ApiScope

__all__ = ["ApiKeyView", "NewApiKey", "router"]

router = APIRouter(
    prefix="/v1/api-keys", tags=["api keys"], dependencies=[RequireAdmin], route_class=SafeRoute
)


class NewApiKey(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["ticket sync"])
    scopes: list[ApiScope] = Field(
        min_length=1,
        max_length=4,
        description="admin: everything; read: GET only; deliver: push mail (POST .../mail);"
        " agent: read and work items (status, assignee, fields, notes, replies, notification"
        " list), read people, nothing of the configuration.",
        examples=[["read"]],
    )
    account_ids: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list,
        max_length=1000,
        description="deliver scope: the accounts this key may push mail to; empty = all.",
    )


class ApiKeyView(View):
    id: str
    name: str
    scopes: list[ApiScope]
    prefix: str = Field(description="The key's first characters, to recognise it.")
    account_ids: list[str]
    created_at: AwareDatetime
    revoked_at: AwareDatetime | None

    @classmethod
    def of(cls, key: ApiKey) -> "ApiKeyView":
        return cls.read(key)


class CreatedApiKey(ApiKeyView):
    key: str = Field(description="The key itself. Shown only now; only its hash is stored.")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key (the response is the only time the key is shown)",
)
async def create_key(store: StoreDep, body: NewApiKey) -> CreatedApiKey:
    record, key = new_api_key(body.name, body.scopes, body.account_ids)
    await store.put_api_key(record)
    return CreatedApiKey.read(record, key=key)


@router.get("", summary="List API keys (never the keys themselves)")
async def list_keys(store: StoreDep) -> list[ApiKeyView]:
    return [ApiKeyView.of(key) for key in await store.list_api_keys()]


@router.delete(
    "/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an API key (effective at once)",
    responses={404: {"description": "No such key, or it is revoked already."}},
)
async def revoke_key(
    store: StoreDep, key_id: Annotated[str, Path(min_length=1, max_length=200)]
) -> Response:
    if not await store.revoke_api_key(key_id):
        raise HTTPException(status_code=404, detail="no such active API key")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
