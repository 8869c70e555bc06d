"""The Templates screen: the notification templates (auto-replies and notifications), an editor
whose preview follows the typing, and deletion behind a confirmation page that names the
accounts still using a template (which the JSON rule refuses to delete).

The editor (`template_editor.html`) is shared with an account's Auto-reply tab. Its preview is
the templates route's own unsaved-preview function (`routes.templates.preview_draft`, rendered
in the replier's sandboxed workers like a real send); a template that does not render shows
why next to the field it names, never a 500. The console also refuses to save such a
template, so no account's auto-reply is left unable to render.
"""

import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from postroom_api.console.access import AdminDep, ConfigReaderDep
from postroom_api.console.forms import FormProblems, field_errors, nested
from postroom_api.console.pages import render
from postroom_api.console.rule_forms import template_part
from postroom_api.deps import RendererDep, StoreDep
from postroom_api.routes.templates import (
    create_template,
    delete_template,
    list_templates,
    load_template,
    preview_draft,
    replace_template,
    template_users,
)
from postroom_api.routing import PathId
from postroom_api.schemas import DraftPreviewIn, TemplateIn
from postroom_api.store import ApiStore
from postroom_replier.ops import TemplateRenderer

__all__ = ["Shown", "editor", "router", "show_preview"]

router = APIRouter(prefix="/ui/templates", include_in_schema=False)
_PARTS = {"name": "name", "subject": "subject", "text": "text", "html": "html"}
_NEW = {"name": "", "subject": "{{ item.token_brackets }} {{ message.subject }}", "text": ""}
_NEXT = r"^/ui/(templates|accounts/[A-Za-z0-9_.-]{1,100}/auto-reply)$"


@dataclass(frozen=True)
class Shown:
    """A preview as the editor shows it: the rendered parts, or why not and where."""

    subject: str = ""
    text: str = ""
    html: str | None = None
    error: str = ""
    field: str = ""


def _draft(fields: dict[str, Any]) -> dict[str, Any]:
    draft = {k: fields.get(k) for k in ("name", "subject", "text", "html")}
    draft["html"] = draft["html"] or None
    return draft


async def show_preview(
    store: ApiStore, renderer: TemplateRenderer, fields: dict[str, Any], account_id: str | None
) -> Shown:
    """`fields` (the editor's, unsaved) rendered by the templates route's draft preview."""
    # a name and a body are needed to save, not to preview what has been typed so far
    draft = _draft(fields) | {
        "name": fields.get("name") or "draft",
        "text": fields.get("text") or " ",
    }
    try:
        body = DraftPreviewIn(template=TemplateIn.model_validate(draft), account_id=account_id)
        view = await preview_draft(store, renderer, body)
    except ValidationError as exc:
        (name, said), *_ = field_errors(exc).by_field.items() or [("text", "invalid")]
        return Shown(error=f"{name}: {said}", field=name.split(".")[-1])
    except RequestValidationError as exc:  # over an operation limit, memory or time
        said = "; ".join(str(e.get("msg", "")) for e in exc.errors())
        return Shown(error=said, field=template_part(said, _PARTS))
    except HTTPException as exc:  # the account to render with is gone
        return Shown(error=str(exc.detail), field="text")
    if view.error:
        return Shown(error=view.error, field=template_part(view.error, _PARTS))
    return Shown(view.subject, view.text, view.html)


def editor(
    fields: dict[str, Any],
    action: str,
    shown: Shown | None,
    *,
    account_id: str = "",
    next_url: str = "",
    problems: FormProblems | None = None,
) -> dict[str, Any]:
    """The context of `template_editor.html`."""
    return {
        "tpl": fields,
        "tpl_action": action,
        "tpl_problems": problems,
        "preview": shown,
        "preview_account": account_id,
        "next_url": next_url,
    }


@router.get("")
async def templates_list(request: Request, visitor: ConfigReaderDep, store: StoreDep) -> Response:
    shown = [(t, await template_users(store, t.id)) for t in await list_templates(store)]
    deleted = request.query_params.get("deleted") == "1"
    return render(request, "template_list.html", rows=shown, deleted=deleted)


@router.get("/new")
async def new_template(request: Request, visitor: AdminDep) -> Response:
    return render(request, "template_edit.html", **editor(dict(_NEW), "/ui/templates", None))


@router.post("/preview")
async def preview(
    request: Request, visitor: AdminDep, store: StoreDep, renderer: RendererDep
) -> HTMLResponse:
    """The editor's live preview: the preview pane and the render error next to its field."""
    form = await request.form()
    account_id = str(form.get("preview_account") or "") or None
    shown = await show_preview(store, renderer, _fields(form), account_id)
    return render(request, "template_preview.html", preview=shown)


def _fields(form: FormData) -> dict[str, Any]:
    return nested(form, skip={"preview_account", "next"})


async def _save(
    request: Request, store: StoreDep, renderer: TemplateRenderer, template_id: str | None
) -> Response:
    form = await request.form()
    fields, account_id = _fields(form), str(form.get("preview_account") or "")
    next_url = str(form.get("next") or "")
    action = f"/ui/templates/{template_id}" if template_id else "/ui/templates"
    shown = await show_preview(store, renderer, fields, account_id or None)
    try:
        body = TemplateIn.model_validate(_draft(fields))
    except ValidationError as exc:
        problems = field_errors(exc)
    else:
        problems = FormProblems({shown.field: shown.error} if shown.error else {}, [])
    if problems:
        context = editor(fields, action, shown, account_id=account_id, next_url=next_url)
        context["tpl_problems"] = problems
        return render(request, "template_edit.html", 422, template_id=template_id, **context)
    if template_id:
        view = await replace_template(store, template_id, body)
    else:
        view = await create_template(store, Response(), body)
    target = next_url if re.match(_NEXT, next_url) else f"/ui/templates/{view.id}"
    return RedirectResponse(f"{target}?saved=1", status_code=303)


@router.post("")
async def create(
    request: Request, visitor: AdminDep, store: StoreDep, renderer: RendererDep
) -> Response:
    return await _save(request, store, renderer, None)


@router.get("/{template_id}")
async def edit(
    request: Request,
    visitor: ConfigReaderDep,
    store: StoreDep,
    renderer: RendererDep,
    template_id: PathId,
) -> Response:
    template = await load_template(store, template_id)
    fields = template.model_dump(include={"name", "subject", "text", "html"})
    shown = await show_preview(store, renderer, fields, None)
    context = editor(fields, f"/ui/templates/{template_id}", shown)
    saved = request.query_params.get("saved") == "1"
    return render(request, "template_edit.html", template_id=template_id, saved=saved, **context)


@router.post("/{template_id}")
async def save(
    request: Request,
    visitor: AdminDep,
    store: StoreDep,
    renderer: RendererDep,
    template_id: PathId,
) -> Response:
    await load_template(store, template_id)
    return await _save(request, store, renderer, template_id)


async def _confirm(
    request: Request, store: ApiStore, template_id: str, status_code: int = 200, error: str = ""
) -> Response:
    template = await load_template(store, template_id)
    users = await template_users(store, template_id)
    return render(
        request, "template_delete.html", status_code, template=template, users=users, error=error
    )


@router.get("/{template_id}/delete")
async def confirm_delete(
    request: Request, visitor: AdminDep, store: StoreDep, template_id: PathId
) -> Response:
    return await _confirm(request, store, template_id)


@router.post("/{template_id}/delete")
async def delete(
    request: Request,
    visitor: AdminDep,
    store: StoreDep,
    template_id: PathId,
) -> Response:
    try:
        await delete_template(store, template_id)
    except HTTPException as exc:
        if exc.status_code != 409:
            raise
        return await _confirm(request, store, template_id, 409, str(exc.detail))
    return RedirectResponse("/ui/templates?deleted=1", status_code=303)
