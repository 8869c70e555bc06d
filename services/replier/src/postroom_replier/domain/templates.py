"""Notification templates: Jinja2 in a sandbox, rendered from plain values only.

Admins edit templates; a template must never reach Postroom's internals (the sandbox and a
context of plain dicts take care of that) and a broken template must never send a broken mail:
any error raises `TemplateError`, and the replier then falls back to the built-in template.
"""

from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined
from jinja2 import TemplateError as JinjaError
from jinja2.sandbox import SandboxedEnvironment

from postroom_shared.contracts import ItemRefV1, MessageRefV1
from postroom_shared.errors import PermanentError
from postroom_shared.mail.tokens import format_token
from postroom_shared.models import EmailAccount, ItemType, NotificationTemplate

__all__ = [
    "BUILTIN_AUTO_REPLY",
    "BUILTIN_NOTIFICATION",
    "Rendered",
    "TemplateError",
    "context",
    "render",
]

MAX_OUTPUT = 200_000

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


class TemplateError(PermanentError):
    """The template cannot be rendered (syntax, unknown variable, sandbox violation, size)."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None


_TEXT = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
)
_HTML = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


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


MAX_LOOP_STEPS = 100_000


class _Budget:
    """`range` for templates with one iteration budget per render: nested loops cannot spin."""

    def __init__(self) -> None:
        self.left = MAX_LOOP_STEPS

    def range(self, *args: int) -> range:
        steps = range(*args)
        self.left -= len(steps)
        if self.left < 0:
            raise TemplateError(f"more than {MAX_LOOP_STEPS} loop steps")
        return steps


def _render(env: SandboxedEnvironment, source: str, values: dict[str, Any], part: str) -> str:
    chunks: list[str] = []
    size = 0
    try:
        stream = env.from_string(source).generate({**values, "range": _Budget().range})
        for chunk in stream:  # streamed, so runaway output stops at the cap, not after it
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateError(f"{part}: rendered output over {MAX_OUTPUT} characters")
            chunks.append(chunk)
    except TemplateError as exc:
        raise TemplateError(f"{part}: {exc}") from exc
    except JinjaError as exc:
        raise TemplateError(f"{part}: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:  # a sandbox violation or an error inside a filter
        raise TemplateError(f"{part}: {type(exc).__name__}: {exc}") from exc
    return "".join(chunks)


def render(template: NotificationTemplate, values: dict[str, Any]) -> Rendered:
    """Subject, text and (optional) HTML of `template`; raises TemplateError."""
    return Rendered(
        subject=_render(_TEXT, template.subject, values, "subject"),
        text=_render(_TEXT, template.text, values, "text"),
        html=_render(_HTML, template.html, values, "html") if template.html else None,
    )
