"""An account's "Creating items" and "Actions" tabs, as the product we match has them: which
item a mail becomes (type, project, creator, field mapping, the four options, default values
with "change value to"), and what a customer's reply does to its item (status, workflow step).

Choices come from the JSON routes' own functions (item types, projects, people, workflows);
Save is the account PATCH (`account_tabs.Tab.save`). Admin keys see the forms, read keys the
same values without them, agent keys a 403 (`require_read`).
"""

import secrets
from typing import Any, Literal, get_args

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from postroom_api.console.access import AdminDep, ConfigReaderDep
from postroom_api.console.account_tabs import TabDep, saved
from postroom_api.console.forms import nested
from postroom_api.console.pages import render
from postroom_api.console.rule_forms import (
    STANDARD_TARGETS,
    blank_is_none,
    defaults_of,
    mapping_of,
    row_fields,
)
from postroom_api.routes.people import list_people
from postroom_api.routes.projects import list_item_types, list_projects
from postroom_api.routes.workflows import list_workflows
from postroom_api.routing import PathId
from postroom_api.store import ApiStore
from postroom_shared.models import MailSource

__all__ = ["router"]

router = APIRouter(prefix="/ui/accounts", include_in_schema=False)

_SOURCES: tuple[str, ...] = get_args(MailSource)
_ITEM_FIELDS = (
    "item_type",
    "project",
    "creator",
    "items.save_attachments",
    "items.add_sender_to_notifications",
    "items.map_sender",
    "items.unknown_sender",
    "items.no_separate_notification_for_new",
)
_ITEM_TABLES = ("items.field_mapping", "items.defaults")
_ACTION_FIELDS = ("on_reply.change_status_to", "on_reply.move_workflow_step", "workflow_id")


async def _item_choices(store: ApiStore) -> dict[str, Any]:
    users = await list_people(store, kind="user", limit=1000)
    return {
        "item_types": [
            (t.id.value, f"{t.id.value} ({t.token_prefix})") for t in await list_item_types()
        ],
        "projects": [p.name for p in await list_projects(store)],
        "creators": [("", "(nobody)")]
        + [(p.id, f"{p.name} <{p.emails[0] if p.emails else p.id}>") for p in users],
        "sources": [("", "(not mapped)")] + [(s, s) for s in _SOURCES],
        "standard_targets": STANDARD_TARGETS,
        "new_row": lambda: secrets.token_hex(4),
    }


@router.get("/{account_id}/items")
async def items_tab(visitor: ConfigReaderDep, tab: TabDep, account_id: PathId) -> HTMLResponse:
    choices = await _item_choices(tab.store)
    return await tab.page(account_id, "account_items.html", "items", **choices)


@router.post("/{account_id}/items")
async def save_items(visitor: AdminDep, tab: TabDep, account_id: PathId) -> Response:
    form = await tab.request.form()
    body = nested(form, skip=row_fields(form))
    items = body.setdefault("items", {})
    items["field_mapping"], items["defaults"] = mapping_of(form), defaults_of(form)
    blank_is_none(body, ["creator"])
    problems = await tab.save(account_id, body, _ITEM_FIELDS, _ITEM_TABLES)
    if problems is None:
        return saved(account_id, "items")
    choices = await _item_choices(tab.store)
    return await tab.refused(account_id, "account_items.html", "items", body, problems, **choices)


@router.get("/{account_id}/items/row")
async def new_row(
    visitor: AdminDep,
    tab: TabDep,
    account_id: PathId,
    kind: Literal["map", "default"] = Query(),
) -> HTMLResponse:
    """One blank mapping or default row, for the "+ row" buttons (htmx appends it)."""
    choices = await _item_choices(tab.store)
    return render(tab.request, "account_item_row.html", kind=kind, **choices)


async def _action_choices(store: ApiStore) -> dict[str, Any]:
    workflows = await list_workflows(store)
    return {
        "workflows": workflows,
        "workflow_options": [("", "(no workflow)")] + [(w.id, w.name) for w in workflows],
    }


@router.get("/{account_id}/actions")
async def actions_tab(visitor: ConfigReaderDep, tab: TabDep, account_id: PathId) -> HTMLResponse:
    choices = await _action_choices(tab.store)
    return await tab.page(account_id, "account_actions.html", "actions", **choices)


@router.post("/{account_id}/actions")
async def save_actions(visitor: AdminDep, tab: TabDep, account_id: PathId) -> Response:
    body = blank_is_none(
        nested(await tab.request.form()), ["workflow_id", "on_reply.change_status_to"]
    )
    problems = await tab.save(account_id, body, _ACTION_FIELDS, ())
    if problems is None:
        return saved(account_id, "actions")
    choices = await _action_choices(tab.store)
    return await tab.refused(
        account_id, "account_actions.html", "actions", body, problems, **choices
    )
