"""Notification templates (auto-replies and notifications, SPEC F5/F6): CRUD and preview."""

import secrets as token_source

from fastapi import APIRouter, Request, Response, status

from postroom_api.auth import RequireAdmin, RequireRead
from postroom_api.deps import store_of
from postroom_api.routing import CONFLICT, NOT_FOUND, PathId, SafeRoute, conflict, not_found
from postroom_api.schemas import TemplateIn, TemplateView
from postroom_shared.models import NotificationTemplate
from postroom_shared.store import Store

__all__ = ["load_template", "router"]

router = APIRouter(prefix="/v1/templates", tags=["templates"], route_class=SafeRoute)


async def load_template(store: Store, template_id: str) -> NotificationTemplate:
    template = await store.get_template(template_id)
    if template is None:
        raise not_found(f"no template {template_id}")
    return template


def _template(template_id: str, body: TemplateIn) -> NotificationTemplate:
    return NotificationTemplate(id=template_id, **body.model_dump())


@router.get("", summary="List notification templates", dependencies=[RequireRead])
async def list_templates(request: Request) -> list[TemplateView]:
    return [TemplateView.of(t) for t in await store_of(request).list_templates()]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a notification template",
    dependencies=[RequireAdmin],
)
async def create_template(request: Request, response: Response, body: TemplateIn) -> TemplateView:
    template = _template("tpl_" + token_source.token_hex(8), body)
    await store_of(request).put_template(template)
    response.headers["Location"] = f"/v1/templates/{template.id}"
    return TemplateView.of(template)


@router.get(
    "/{template_id}", summary="One template", responses=NOT_FOUND, dependencies=[RequireRead]
)
async def get_template(request: Request, template_id: PathId) -> TemplateView:
    return TemplateView.of(await load_template(store_of(request), template_id))


@router.put(
    "/{template_id}", summary="Replace a template", responses=NOT_FOUND, dependencies=[RequireAdmin]
)
async def replace_template(request: Request, template_id: PathId, body: TemplateIn) -> TemplateView:
    store = store_of(request)
    await load_template(store, template_id)
    template = _template(template_id, body)
    await store.put_template(template)
    return TemplateView.of(template)


@router.delete(
    "/{template_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a template that no account uses",
    responses={**NOT_FOUND, **CONFLICT},
    dependencies=[RequireAdmin],
)
async def delete_template(request: Request, template_id: PathId) -> None:
    store = store_of(request)
    await load_template(store, template_id)
    users = [
        a.name
        for a in await store.list_accounts()
        if template_id in (a.auto_reply.template_id, a.notification_template_id)
    ]
    if users:
        raise conflict(f"template {template_id} is used by account(s): {', '.join(users)}")
    if not await store.delete_template(template_id):
        raise not_found(f"no template {template_id}")
