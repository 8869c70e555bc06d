"""Per-event notification templates and the team reply's template: which one each mail uses,
and that the built-in ones render for changes no mail caused."""

import pytest

from postroom_replier.domain.templates import (
    BUILTIN_AUTO_REPLY,
    BUILTIN_NOTIFICATION,
    BUILTIN_NOTIFICATIONS,
    BUILTIN_TEAM_REPLY,
    context,
    render,
    template_choice,
    text_as_html,
)
from postroom_shared.models import NotificationSettings, NotifyEvent
from tests import factories

ITEM = factories.item_ref(7, "Printer <on> fire", "closed")


def test_each_event_has_its_own_setting_and_new_mail_keeps_the_general_template() -> None:
    account = factories.account()
    assert template_choice(account, "notification", "status_changed") == (
        None,
        BUILTIN_NOTIFICATIONS["status_changed"],
    )
    account.notification_template_id = "general"
    account.notifications = NotificationSettings(status_changed="status", team_reply_mail="wrap")
    assert template_choice(account, "notification", "status_changed")[0] == "status"
    assert template_choice(account, "notification", "mail_update")[0] == "general"
    assert template_choice(account, "notification", "item_created")[0] == "general"
    # the general template was written for mail: it does not stand in for other events
    assert template_choice(account, "notification", "team_reply")[0] is None
    assert template_choice(account, "team_reply") == ("wrap", BUILTIN_TEAM_REPLY)
    assert template_choice(account, "auto_reply") == (None, BUILTIN_AUTO_REPLY)
    assert BUILTIN_NOTIFICATIONS["mail_update"] is BUILTIN_NOTIFICATION


@pytest.mark.parametrize("event", ["item_created", "mail_update", "status_changed", "team_reply"])
def test_builtin_notifications_render_without_a_mail(event: NotifyEvent) -> None:
    values = context(
        ITEM,
        factories.account(),
        None,
        change={"event": event, "actor": "Ada Agent", "workflow_step": "Done"},
        reply={"subject": "[INC-7] Printer", "text": "We replaced it.", "to": "c@x.test"},
    )
    rendered = render(BUILTIN_NOTIFICATIONS[event], values)
    assert rendered.subject.startswith("[INC-7] ")
    assert "[INC-7]" in rendered.text and "automatic notification" in rendered.text


def test_status_notification_names_actor_status_and_step() -> None:
    values = context(
        ITEM, factories.account(), None, change={"actor": "Ada Agent", "workflow_step": "Done"}
    )
    rendered = render(BUILTIN_NOTIFICATIONS["status_changed"], values)
    assert rendered.subject == "[INC-7] Printer <on> fire: closed"
    assert "Ada Agent changed [INC-7]" in rendered.text
    assert "Status: closed" in rendered.text and "Step:   Done" in rendered.text


def test_team_reply_carries_the_teams_text_in_text_and_html() -> None:
    text = "Hello,\nwe replaced the <printer>."
    values = context(
        ITEM,
        factories.account(),
        None,
        change={"actor": "Ada Agent"},
        reply={"subject": "[INC-7] Printer", "text": text, "text_html": text_as_html(text)},
    )
    rendered = render(BUILTIN_TEAM_REPLY, values)
    assert rendered.subject == "[INC-7] Printer"
    assert rendered.text.startswith(text) and "Ada Agent, Support" in rendered.text
    assert rendered.html is not None
    assert "we replaced the &lt;printer&gt;." in rendered.html and "Hello,<br>" in rendered.html
    with_html = render(
        BUILTIN_TEAM_REPLY,
        context(ITEM, factories.account(), None, reply={"text": text, "html": "<p>Fixed</p>"}),
    )
    assert with_html.html is not None and "<div><p>Fixed</p></div>" in with_html.html


def test_context_without_a_mail_has_empty_message_values() -> None:
    values = context(ITEM, factories.account(), None)
    assert values["message"] == {
        "subject": "",
        "sender_name": "",
        "sender_address": "",
        "message_id": "",
    }
    assert values["change"]["actor"] == "" and values["reply"]["text"] == ""
