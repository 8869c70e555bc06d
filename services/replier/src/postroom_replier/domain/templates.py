"""Notification templates: Jinja2 in a limited sandbox, rendered from plain values only.

Admins edit templates; a template must never reach Postroom's internals (the sandbox and a
context of plain dicts take care of that), never exhaust the CPU or the memory (operation
limits and budgets, `sandbox.py`; admin-written templates render in a worker process with a
deadline, `renderer.py`) and a broken template must never send a broken mail: any error raises
`TemplateError`, and the replier then falls back to the built-in template.
"""

from dataclasses import dataclass
from typing import Any

from postroom_replier.domain.sandbox import MAX_OUTPUT, render_parts
from postroom_replier.domain.template_limits import TemplateBudgetError, TemplateError
from postroom_shared.contracts import ItemRefV1, MessageRefV1
from postroom_shared.mail.tokens import format_token
from postroom_shared.models import EmailAccount, ItemType, NotificationTemplate

__all__ = [
    "BUILTIN_AUTO_REPLY",
    "BUILTIN_NOTIFICATION",
    "MAX_OUTPUT",
    "Rendered",
    "TemplateBudgetError",
    "TemplateError",
    "context",
    "render",
]

BUILTIN_AUTO_REPLY = NotificationTemplate(
    id="builtin-auto-reply",
    name="Built-in auto-reply",
    subject="{{ item.token_brackets }} {{ message.subject or item.title }}",
    text="""Hello{% if message.sender_name %} {{ message.sender_name }}{% endif %},

thank you for your message. We have recorded it as {{ item.token_brackets }}:

    {{ item.title }}

To add anything, just reply to this mail and keep {{ item.token_brackets }} in the subject.

--
{{ account.name }}
This is an automatic reply.
""",
)


BUILTIN_NOTIFICATION = NotificationTemplate(
    id="builtin-notification",
    name="Built-in notification",
    subject="{{ item.token_brackets }} {{ message.subject or item.title }}",
    text="""There is new mail on {{ item.token_brackets }} {{ item.title }} ({{ item.status }}).

From:    {{ message.sender_name }} <{{ message.sender_address }}>
Subject: {{ message.subject }}

Reply to this mail to answer on the item; keep {{ item.token_brackets }} in the subject.

--
{{ account.name }}
This is an automatic notification.
""",
)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None


def context(item: ItemRefV1, account: EmailAccount, message: MessageRefV1) -> dict[str, Any]:
    """What a template may use: plain values, nothing with methods or internals."""
    sender = message.sender
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
            "subject": message.subject,
            "sender_name": sender.name if sender else "",
            "sender_address": sender.address if sender else "",
            "message_id": message.message_id,
        },
    }


def render(template: NotificationTemplate, values: dict[str, Any]) -> Rendered:
    """Subject, text and (optional) HTML of `template`, in this process; raises TemplateError.
    For the built-in templates and tests: admin-written templates go through `renderer.py`."""
    return Rendered(*render_parts(template.subject, template.text, template.html, values))
