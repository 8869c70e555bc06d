"""Notification templates (auto-replies and notifications, docs/features.md F5/F6): CRUD and
preview.

Previews render in the replier's worker processes (`postroom_replier.renderer`), never on the
event loop: a template over an operation limit, the memory cap or the deadline is a 422 naming
the limit, while the rest of the API keeps answering.
"""

import secrets as token_source
from typing import Annotated

from fastapi import APIRouter, Body, Response, status

from postroom_api.account_rules import template_settings
from postroom_api.auth import RequireAdmin, RequireRead
from postroom_api.deps import RendererDep, StoreDep
from postroom_api.routing import (
    CONFLICT,
    NOT_FOUND,
    UNPROCESSABLE,
    PathId,
    SafeRoute,
    conflict,
    not_found,
    unprocessable,
)
from postroom_api.schemas import DraftPreviewIn, PreviewIn, PreviewView, TemplateIn, TemplateView
from postroom_api.store import ApiStore
from postroom_replier.ops import TemplateRenderer, preview_template
from postroom_shared.models import NotificationTemplate

__all__ = ["load_template", "router", "template_users"]

router = APIRouter(prefix="/v1/templates", tags=["templates"], route_class=SafeRoute)


async def load_template(store: ApiStore, template_id: str) -> NotificationTemplate:
    template = await store.get_template(template_id)
    if template is None:
        raise not_found(f"no template {template_id}")
    return template


async def template_users(store: ApiStore, template_id: str) -> list[str]:
    """The names of the accounts whose settings name the template (it cannot be deleted)."""
    return [
        a.name
        for a in await store.list_accounts()
        if template_id in {named for _, named in template_settings(a)}
    ]


def _template(template_id: str, body: TemplateIn) -> NotificationTemplate:
    return NotificationTemplate(id=template_id, **body.model_dump())


async def _preview(
    store: ApiStore, renderer: TemplateRenderer, template: NotificationTemplate, body: PreviewIn
) -> PreviewView:
    if body.item_id is not None and await store.get_item(body.item_id) is None:
        raise not_found(f"no item {body.item_id}")
    if body.account_id is not None and await store.get_account(body.account_id) is None:
        raise not_found(f"no account {body.account_id}")
    preview = await preview_template(
        store,
        template,
        item_id=body.item_id,
        account_id=body.account_id,
        renderer=renderer,
    )
    if preview.over_budget:
        raise unprocessable([(("template",), preview.error or "over a template limit")])
    return PreviewView(
        subject=preview.subject, text=preview.text, html=preview.html, error=preview.error
    )


@router.post(
    "/preview",
    summary="Preview an unsaved template against a stored item (or a sample)",
    description="Rendered in the same sandbox as real sends; a template that does not render"
    " comes back with `error` (200); one over an operation limit, the memory cap or the time"
    " budget is a 422 naming the limit.",
    responses={**NOT_FOUND, **UNPROCESSABLE},
    dependencies=[RequireAdmin],
)
async def preview_draft(
    store: StoreDep, renderer: RendererDep, body: DraftPreviewIn
) -> PreviewView:
    draft = _template("tpl_draft", body.template)
    return await _preview(store, renderer, draft, body)


@router.post(
    "/{template_id}/preview",
    summary="Preview a template against a stored item (or a sample)",
    description="Rendered in the same sandbox as real sends, with the item, its account (or"
    " `account_id`) and its last inbound mail; without `item_id`, a sample item. A template"
    " that does not render comes back with `error` (200); one over an operation limit, the"
    " memory cap or the time budget is a 422 naming the limit.",
    responses={**NOT_FOUND, **UNPROCESSABLE},
    dependencies=[RequireAdmin],
)
async def preview_stored(
    store: StoreDep,
    renderer: RendererDep,
    template_id: PathId,
    body: Annotated[PreviewIn | None, Body()] = None,
) -> PreviewView:
    template = await load_template(store, template_id)
    return await _preview(store, renderer, template, body or PreviewIn())


@router.get("", summary="List notification templates", dependencies=[RequireRead])
async def list_templates(store: StoreDep) -> list[TemplateView]:
    return [TemplateView.of(t) for t in await store.list_templates()]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a notification template",
    dependencies=[RequireAdmin],
)
async def create_template(store: StoreDep, response: Response, body: TemplateIn) -> TemplateView:
    template = _template("tpl_" + token_source.token_hex(8), body)
    await store.put_template(template)
    response.headers["Location"] = f"/v1/templates/{template.id}"
    return TemplateView.of(template)


@router.get(
    "/{template_id}", summary="One template", responses=NOT_FOUND, dependencies=[RequireRead]
)
async def get_template(store: StoreDep, template_id: PathId) -> TemplateView:
    return TemplateView.of(await load_template(store, template_id))


@router.put(
    "/{template_id}", summary="Replace a template", responses=NOT_FOUND, dependencies=[RequireAdmin]
)
async def replace_template(store: StoreDep, template_id: PathId, body: TemplateIn) -> TemplateView:
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
async def delete_template(store: StoreDep, template_id: PathId) -> None:
    await load_template(store, template_id)
    users = await template_users(store, template_id)
    if users:
        raise conflict(f"template {template_id} is used by account(s): {', '.join(users)}")
    if not await store.delete_template(template_id):
        raise not_found(f"no template {template_id}")
