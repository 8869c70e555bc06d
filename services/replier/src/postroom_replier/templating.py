"""The text of one automatic mail about an item: the account's stored template, rendered in a
worker process under time and memory limits (`renderer.py`), or the built-in one when the
stored one is missing or broken, so a template never sends a broken mail and never blocks the
mail. Why a stored template was not used goes to the log and to the processing log."""

from typing import Any, Literal

from postroom_replier.domain.templates import (
    Rendered,
    TemplateError,
    render,
    template_choice,
)
from postroom_replier.renderer import TemplateRenderer
from postroom_replier.store import ReplierStore
from postroom_shared.contracts import ItemRefV1
from postroom_shared.logs import get_logger
from postroom_shared.models import EmailAccount, NotifyEvent, ProcessingLogEntry

__all__ = ["render_for"]

log = get_logger(__name__)
_LABELS = {"auto_reply": "auto-reply", "notification": "notification", "team_reply": "team reply"}


async def render_for(
    store: ReplierStore,
    renderer: TemplateRenderer,
    *,
    account: EmailAccount,
    item: ItemRefV1,
    purpose: Literal["auto_reply", "notification", "team_reply"],
    event: NotifyEvent,
    values: dict[str, Any],
    log_key: str,
    recipient: str,
) -> Rendered:
    """The mail's text from the account's template for `purpose` (and notification `event`),
    or the built-in one (`templates.template_choice`). `log_key` keys the processing-log entry
    about a broken template: the mail's key, or the change's correlation id."""
    template_id, builtin = template_choice(account, purpose, event)
    label = _LABELS[purpose]
    template = await store.get_template(template_id) if template_id else None
    if template_id and template is None:
        log.warning(f"{label} template missing, using the built-in one", template=template_id)
    if template is not None:
        try:
            return await renderer.render(template, values)
        except TemplateError as exc:
            log.warning(
                f"{label} template broken, using the built-in one",
                template=template_id,
                error=str(exc),
            )
            await store.put_log(
                ProcessingLogEntry(
                    id=f"{log_key}:replier:{purpose}_template:{recipient}",
                    mail_key=log_key,
                    account_id=account.id,
                    stage="replier",
                    action=f"{purpose}_template_failed",
                    reason=f"template {template_id} not used, the built-in one instead: {exc}",
                    item_id=item.item_id,
                    item_token=item.token,
                )
            )
    try:
        return render(builtin, values)
    except TemplateError as exc:  # a team reply longer than any template may build
        log.warning(f"{label} sent without a template", error=str(exc))
        reply = values["reply"]
        return Rendered(reply["subject"] or item.title, reply["text"], reply["html"] or None)
