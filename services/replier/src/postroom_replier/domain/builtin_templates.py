"""The built-in templates: what every mail says when the account names no template of its own
(or its template is missing or broken). They render with the same sandbox and the same values
as an admin's templates (`templates.context`), so they double as examples of what a template
can use."""

from postroom_shared.models import NotificationTemplate, NotifyEvent

__all__ = [
    "BUILTIN_AUTO_REPLY",
    "BUILTIN_NOTIFICATION",
    "BUILTIN_NOTIFICATIONS",
    "BUILTIN_TEAM_REPLY",
]

# What every notification ends with, and what mail notifications say about the mail.
_FOOTER = """
--
{{ account.name }}
This is an automatic notification.
"""
_THE_MAIL = """From:    {{ message.sender_name }} <{{ message.sender_address }}>
Subject: {{ message.subject }}

Reply to this mail to answer on the item; keep {{ item.token_brackets }} in the subject.
"""

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
    text="There is new mail on {{ item.token_brackets }} {{ item.title }} ({{ item.status }}).\n\n"
    + _THE_MAIL
    + _FOOTER,
)


BUILTIN_ITEM_CREATED = NotificationTemplate(
    id="builtin-item-created",
    name="Built-in notification: new item",
    subject="{{ item.token_brackets }} {{ message.subject or item.title }}",
    text="A new item was opened: {{ item.token_brackets }} {{ item.title }}"
    " ({{ item.status }}).\n\n" + _THE_MAIL + _FOOTER,
)


BUILTIN_STATUS_CHANGED = NotificationTemplate(
    id="builtin-status-changed",
    name="Built-in notification: status changed",
    subject="{{ item.token_brackets }} {{ item.title }}: {{ item.status }}",
    text="""{{ change.actor or "Someone" }} changed {{ item.token_brackets }} {{ item.title }}.

Status: {{ item.status }}
{%- if change.workflow_step %}
Step:   {{ change.workflow_step }}{% endif %}

Reply to this mail to add to the item; keep {{ item.token_brackets }} in the subject.
"""
    + _FOOTER,
)


BUILTIN_TEAM_REPLY_NOTIFICATION = NotificationTemplate(
    id="builtin-team-reply-notification",
    name="Built-in notification: team reply",
    subject="{{ item.token_brackets }} {{ reply.subject or item.title }}",
    text="""{{ change.actor or "The team" }} replied on {{ item.token_brackets }} {{ item.title }}\
{% if reply.to %} to {{ reply.to }}{% endif %}:

{{ reply.text }}
"""
    + _FOOTER,
)


BUILTIN_NOTIFICATIONS: dict[NotifyEvent, NotificationTemplate] = {
    "item_created": BUILTIN_ITEM_CREATED,
    "mail_update": BUILTIN_NOTIFICATION,
    "status_changed": BUILTIN_STATUS_CHANGED,
    "team_reply": BUILTIN_TEAM_REPLY_NOTIFICATION,
}


# The team's reply to a customer: their text, then how to answer. The HTML part is the team's
# own HTML when they wrote some, else their text (escaped, line breaks kept).
BUILTIN_TEAM_REPLY = NotificationTemplate(
    id="builtin-team-reply",
    name="Built-in team reply",
    subject="{{ reply.subject }}",
    text="""{{ reply.text }}

--
{{ change.actor }}{% if change.actor %}, {% endif %}{{ account.name }}
To answer, reply to this mail and keep {{ item.token_brackets }} in the subject.
""",
    html="""<div>{% if reply.html %}{{ reply.html|safe }}{% else %}{{ reply.text_html|safe }}\
{% endif %}</div>
<p>--<br>{{ change.actor }}{% if change.actor %}, {% endif %}{{ account.name }}<br>
To answer, reply to this mail and keep {{ item.token_brackets }} in the subject.</p>
""",
)
