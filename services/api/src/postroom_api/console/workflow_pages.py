"""The Workflows screen: the list, a form to create or edit one (its steps in order, each with
the step a new email on an item moves it to), and delete after a confirmation.

Steps are numbered rows (`steps.0.name`...). Without inline script, rows are added by the
form's "Add a step row" button (the form comes back with one more empty row, nothing saved)
and removed by a row's "Remove" box on save; empty rows are spare ones and ignored.
Saving is the JSON route's own function (`routes.workflows`), so a step named twice or a move
to a step that does not exist is refused next to its field, and a workflow an account uses is
not deleted (the refusal names the accounts).
"""

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from postroom_api.console.access import AdminDep, ConfigReaderDep
from postroom_api.console.form_calls import body_of, deleted_or_refused, saved_or_again
from postroom_api.console.forms import FormProblems
from postroom_api.console.pages import render
from postroom_api.deps import StoreDep
from postroom_api.routes.workflows import (
    create_workflow,
    delete_workflow,
    get_workflow,
    list_workflows,
    replace_workflow,
)
from postroom_api.routing import PathId
from postroom_api.schemas import WorkflowIn, WorkflowView

__all__ = ["router", "step_fields"]

router = APIRouter(prefix="/ui/workflows", include_in_schema=False)
SPARE_ROWS = 2  # empty rows a form offers besides the steps it has


def step_fields(rows: int) -> list[str]:
    """The names of the form's fields for `rows` step rows (where a 422 may point)."""
    fields = ["name", "steps"]
    for index in range(rows):
        fields += [f"steps.{index}.name", f"steps.{index}.on_new_email"]
    return fields


def _form(
    request: Request,
    action: str,
    values: dict[str, Any],
    status_code: int = 200,
    problems: FormProblems | None = None,
    spare: int = SPARE_ROWS,
) -> HTMLResponse:
    steps = list(values.get("steps") or []) + [{} for _ in range(spare)]
    return render(
        request,
        "workflow_form.html",
        status_code,
        action=action,
        values=values,
        steps=steps,
        problems=problems,
    )


@router.get("")
async def workflows(request: Request, visitor: ConfigReaderDep, store: StoreDep) -> HTMLResponse:
    return render(request, "workflows.html", workflows=await list_workflows(store))


@router.get("/new")
async def new_form(request: Request, visitor: AdminDep) -> HTMLResponse:
    return _form(request, "/ui/workflows/new", {}, spare=3)


async def _save(
    request: Request, action: str, save: Callable[[WorkflowIn], Awaitable[WorkflowView]]
) -> Response:
    """Save the posted form with `save`, or show it again: with one more row when the
    "Add a step row" button sent it, with the problems when the route refused it."""
    form = await request.form()
    body = body_of(form, skip=("more",), rows=("steps",))
    if form.get("more"):
        return _form(request, action, body, spare=SPARE_ROWS + 1)
    fields = step_fields(len(body.get("steps", [])))

    def again(problems: FormProblems) -> Response:
        return _form(request, action, body, 422, problems)

    return await saved_or_again(WorkflowIn, body, save, fields, again, router.prefix)


@router.post("/new")
async def create(request: Request, visitor: AdminDep, store: StoreDep) -> Response:
    return await _save(
        request, "/ui/workflows/new", lambda b: create_workflow(store, Response(), b)
    )


@router.get("/{workflow_id}")
async def edit_form(
    request: Request, visitor: ConfigReaderDep, store: StoreDep, workflow_id: PathId
) -> HTMLResponse:
    workflow = await get_workflow(store, workflow_id)
    values = workflow.model_dump()
    if not (visitor.principal.admin):
        return render(
            request, "workflow_form.html", action="", values=values, steps=values["steps"]
        )
    return _form(request, f"/ui/workflows/{workflow_id}", values, spare=1)


@router.post("/{workflow_id}")
async def edit(request: Request, v: AdminDep, store: StoreDep, workflow_id: PathId) -> Response:
    action = f"/ui/workflows/{workflow_id}"
    return await _save(request, action, lambda b: replace_workflow(store, workflow_id, b))


@router.get("/{workflow_id}/delete")
async def confirm_delete(
    request: Request, visitor: AdminDep, store: StoreDep, workflow_id: PathId
) -> HTMLResponse:
    workflow = await get_workflow(store, workflow_id)
    return render(request, "workflow_delete.html", workflow=workflow)


@router.post("/{workflow_id}/delete")
async def delete(request: Request, v: AdminDep, store: StoreDep, workflow_id: PathId) -> Response:
    async def refused(problems: FormProblems) -> Response:
        workflow = await get_workflow(store, workflow_id)
        return render(request, "workflow_delete.html", 409, workflow=workflow, problems=problems)

    return await deleted_or_refused(delete_workflow(store, workflow_id), refused, router.prefix)
