"""An account's "Auto-reply" tab: the auto-reply's toggles as the product we match names them,
the template of the reply and of the item notifications, and "Edit response format": the
chosen template in the shared editor with its live preview, rendered with this account.

Save is the account PATCH (`account_tabs.Tab.save`, which checks that each template exists);
the editor saves the template itself through the Templates screen and comes back here.
"""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from postroom_api.console.access import AdminDep, ConfigReaderDep
from postroom_api.console.account_tabs import Tab, TabDep, saved
from postroom_api.console.forms import nested
from postroom_api.console.rule_forms import blank_is_none
from postroom_api.console.template_pages import editor, show_preview
from postroom_api.deps import RendererDep
from postroom_api.routes.accounts import load_account
from postroom_api.routes.templates import list_templates
from postroom_api.routing import PathId
from postroom_replier.ops import TemplateRenderer
from postroom_shared.models import NotificationSettings

__all__ = ["router"]

router = APIRouter(prefix="/ui/accounts", include_in_schema=False)

_EVENTS = {
    "item_created": "A new item from mail",
    "mail_update": "New mail on an item",
    "status_changed": "Status or workflow step changed",
    "team_reply": "The team replied by mail",
    "team_reply_mail": "The team's reply itself",
}
assert set(_EVENTS) == set(NotificationSettings.model_fields), "an event without a label"
_TEMPLATE_FIELDS = (
    "auto_reply.template_id",
    "notification_template_id",
    *(f"notifications.{event}" for event in _EVENTS),
)
_FIELDS = (
    "auto_reply.enabled",
    "auto_reply.send_to_cc",
    "auto_reply.first_mail_only",
    "auto_reply.honour_reply_to",
    *_TEMPLATE_FIELDS,
)


async def _context(tab: Tab, renderer: TemplateRenderer, account_id: str) -> dict[str, Any]:
    templates = await list_templates(tab.store)
    account = await load_account(tab.store, account_id)
    chosen = next((t for t in templates if t.id == account.auto_reply.template_id), None)
    context: dict[str, Any] = {
        "template_options": [("", "(built-in)")] + [(t.id, t.name) for t in templates],
        "events": _EVENTS,
        "chosen": chosen,
    }
    if chosen is not None:  # "Edit response format": the reply's template, as it is stored
        fields = chosen.model_dump(include={"name", "subject", "text", "html"})
        shown = await show_preview(tab.store, renderer, fields, account_id)
        here = f"/ui/accounts/{account_id}/auto-reply"
        action = f"/ui/templates/{chosen.id}"
        context |= editor(fields, action, shown, account_id=account_id, next_url=here)
    return context


@router.get("/{account_id}/auto-reply")
async def auto_reply_tab(
    visitor: ConfigReaderDep, tab: TabDep, renderer: RendererDep, account_id: PathId
) -> HTMLResponse:
    context = await _context(tab, renderer, account_id)
    return await tab.page(account_id, "account_auto_reply.html", "auto-reply", **context)


@router.post("/{account_id}/auto-reply")
async def save_auto_reply(
    visitor: AdminDep, tab: TabDep, renderer: RendererDep, account_id: PathId
) -> Response:
    body = blank_is_none(nested(await tab.request.form()), _TEMPLATE_FIELDS)
    problems = await tab.save(account_id, body, _FIELDS, ())
    if problems is None:
        return saved(account_id, "auto-reply")
    context = await _context(tab, renderer, account_id)
    return await tab.refused(
        account_id, "account_auto_reply.html", "auto-reply", body, problems, **context
    )
