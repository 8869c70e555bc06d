"""An account's choice of templates for item notifications, per event, and for the team's
replies: what the replier sends to an item's notification list and to the customer."""

from typing import Literal

from pydantic import Field

from postroom_shared.models.base import _Model

__all__ = ["NotificationSettings", "NotifyEvent"]

NotifyEvent = Literal["item_created", "mail_update", "status_changed", "team_reply"]


class NotificationSettings(_Model):
    """Per event, the template of the notification to the item's notification list; None =
    the built-in one of that event (`item_created` and `mail_update` fall back to the account's
    `notification_template_id` first, the template they used before there was one per event)."""

    item_created: str | None = Field(default=None, description="A new item from mail.")
    mail_update: str | None = Field(default=None, description="New mail on an item.")
    status_changed: str | None = Field(default=None, description="Status or workflow step.")
    team_reply: str | None = Field(default=None, description="The team replied by mail.")
    team_reply_mail: str | None = Field(
        default=None,
        description="Template of the team's reply itself (the team's text inside it): what the"
        " customer gets. None = the built-in one.",
    )

    def template_for(self, event: NotifyEvent) -> str | None:
        template_id: str | None = getattr(self, event)
        return template_id
