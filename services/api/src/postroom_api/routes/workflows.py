"""Workflows and their steps, with the 'new email on an existing item -> step' rule
(docs/features.md F4)."""

import secrets as token_source

from fastapi import APIRouter, Response, status

from postroom_api.auth import RequireAdmin, RequireRead
from postroom_api.deps import StoreDep
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
from postroom_api.schemas import WorkflowIn, WorkflowView
from postroom_api.store import ApiStore
from postroom_shared.models import Workflow, WorkflowStep

__all__ = ["router"]

router = APIRouter(prefix="/v1/workflows", tags=["workflows"], route_class=SafeRoute)


async def _load(store: ApiStore, workflow_id: str) -> Workflow:
    workflow = await store.get_workflow(workflow_id)
    if workflow is None:
        raise not_found(f"no workflow {workflow_id}")
    return workflow


def _workflow(workflow_id: str, body: WorkflowIn) -> Workflow:
    found = body.problems()
    if found:
        raise unprocessable(found)
    steps = [WorkflowStep(name=s.name, on_new_email=s.on_new_email) for s in body.steps]
    return Workflow(id=workflow_id, name=body.name, steps=steps)


@router.get("", summary="List workflows", dependencies=[RequireRead])
async def list_workflows(store: StoreDep) -> list[WorkflowView]:
    return [WorkflowView.of(w) for w in await store.list_workflows()]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a workflow",
    responses=UNPROCESSABLE,
    dependencies=[RequireAdmin],
)
async def create_workflow(store: StoreDep, response: Response, body: WorkflowIn) -> WorkflowView:
    workflow = _workflow("wf_" + token_source.token_hex(8), body)
    await store.put_workflow(workflow)
    response.headers["Location"] = f"/v1/workflows/{workflow.id}"
    return WorkflowView.of(workflow)


@router.get(
    "/{workflow_id}", summary="One workflow", responses=NOT_FOUND, dependencies=[RequireRead]
)
async def get_workflow(store: StoreDep, workflow_id: PathId) -> WorkflowView:
    return WorkflowView.of(await _load(store, workflow_id))


@router.put(
    "/{workflow_id}",
    summary="Replace a workflow and its steps",
    responses={**NOT_FOUND, **UNPROCESSABLE},
    dependencies=[RequireAdmin],
)
async def replace_workflow(store: StoreDep, workflow_id: PathId, body: WorkflowIn) -> WorkflowView:
    await _load(store, workflow_id)
    workflow = _workflow(workflow_id, body)
    await store.put_workflow(workflow)
    return WorkflowView.of(workflow)


@router.delete(
    "/{workflow_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a workflow that no account uses",
    responses={**NOT_FOUND, **CONFLICT},
    dependencies=[RequireAdmin],
)
async def delete_workflow(store: StoreDep, workflow_id: PathId) -> None:
    await _load(store, workflow_id)
    users = [a.name for a in await store.list_accounts() if a.workflow_id == workflow_id]
    if users:
        raise conflict(f"workflow {workflow_id} is used by account(s): {', '.join(users)}")
    if not await store.delete_workflow(workflow_id):
        raise not_found(f"no workflow {workflow_id}")
