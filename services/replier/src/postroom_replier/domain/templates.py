"""Notification templates: Jinja2 in a limited sandbox, rendered from plain values only.

Admins edit templates; a template must never reach Postroom's internals (the sandbox and a
context of plain dicts take care of that), never exhaust the CPU or the memory (operation
limits and budgets, `sandbox.py`; admin-written templates render in a worker process with a
deadline, `renderer.py`) and a broken template must never send a broken mail: any error raises
`TemplateError`, and the replier then falls back to the built-in template.
"""

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from postroom_replier.domain.builtin_templates import (
    BUILTIN_AUTO_REPLY,
    BUILTIN_NOTIFICATION,
    BUILTIN_NOTIFICATIONS,
    BUILTIN_TEAM_REPLY,
)
from postroom_replier.domain.template_limits import MAX_OUTPUT, TemplateBudgetError, TemplateError
from postroom_shared.contracts import ItemRefV1, MessageRefV1
from postroom_shared.mail.tokens import format_token
from postroom_shared.models import EmailAccount, ItemType, NotificationTemplate, NotifyEvent

__all__ = [
    "BUILTIN_AUTO_REPLY",
    "BUILTIN_NOTIFICATION",
    "BUILTIN_NOTIFICATIONS",
    "BUILTIN_TEAM_REPLY",
    "MAX_OUTPUT",
    "Rendered",
    "TemplateBudgetError",
    "TemplateError",
    "context",
    "render",
    "template_choice",
    "text_as_html",
]


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None


def text_as_html(text: str) -> str:
    """Plain text as HTML that reads the same: escaped, line breaks kept."""
    return html.escape(text).replace("\n", "<br>\n")


def context(
    item: ItemRefV1,
    account: EmailAccount,
    message: MessageRefV1 | None,
    *,
    change: Mapping[str, str] | None = None,
    reply: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What a template may use: plain values, nothing with methods or internals. `message` is
    the mail the event is about (empty values when a person or service made the change);
    `change` says what changed and who did it (`event`, `actor`, `workflow_step`); `reply` is
    the team's reply (`subject`, `text`, `html`, `text_html`, `to`)."""
    sender = message.sender if message else None
    return {
        "item": {
            "token": item.token,
            "token_brackets": format_token(ItemType(item.item_type), item.number),
            "number": item.number,
            "type": item.item_type,
            "title": item.title,
            "project": item.project,
            "status": item.status,
        },
        "account": {"name": account.name, "address": account.address},
        "message": {
            "subject": message.subject if message else "",
            "sender_name": sender.name if sender else "",
            "sender_address": sender.address if sender else "",
            "message_id": message.message_id if message else "",
        },
        "change": {"event": "", "actor": "", "workflow_step": "", **(change or {})},
        "reply": {
            "subject": "",
            "text": "",
            "html": "",
            "text_html": "",
            "to": "",
            **(reply or {}),
        },
    }


def render(template: NotificationTemplate, values: dict[str, Any]) -> Rendered:
    """Subject, text and (optional) HTML of `template`, in this process; raises TemplateError.
    For the built-in templates and tests: admin-written templates go through `renderer.py`."""
    # Jinja (about 4 MB resident) loads with the first mail rendered, not at the replier's
    # start (tests/unit/test_lean_imports.py).
    from postroom_replier.domain.sandbox import render_parts

    return Rendered(*render_parts(template.subject, template.text, template.html, values))


def template_choice(
    account: EmailAccount,
    purpose: Literal["auto_reply", "notification", "team_reply"],
    event: NotifyEvent = "mail_update",
) -> tuple[str | None, NotificationTemplate]:
    """The account's template id for this mail (None: none chosen) and the built-in one that
    stands in when there is none or it is missing or broken. Notifications of new items and
    new mail fall back to the account's general `notification_template_id`, which is what they
    used before each event had a template of its own."""
    if purpose == "auto_reply":
        return account.auto_reply.template_id, BUILTIN_AUTO_REPLY
    if purpose == "team_reply":
        return account.notifications.team_reply_mail, BUILTIN_TEAM_REPLY
    chosen = account.notifications.template_for(event)
    if chosen is None and event in ("item_created", "mail_update"):
        chosen = account.notification_template_id
    return chosen, BUILTIN_NOTIFICATIONS[event]
