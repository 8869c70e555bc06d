"""The text of one automatic mail about an item: the account's stored template, rendered in a
worker process under time and memory limits (`renderer.py`), or the built-in one when the
stored one is missing or broken, so a template never sends a broken mail and never blocks the
mail. Why a stored template was not used goes to the log and to the processing log."""

from postroom_replier.domain.sent_mail import inbound_mail
from postroom_replier.domain.templates import (
    BUILTIN_AUTO_REPLY,
    BUILTIN_NOTIFICATION,
    Rendered,
    TemplateError,
    context,
    render,
)
from postroom_replier.renderer import TemplateRenderer
from postroom_replier.store import ReplierStore
from postroom_shared.contracts import ItemCreatedV1, ItemUpdatedV1
from postroom_shared.logs import get_logger
from postroom_shared.models import EmailAccount, ProcessingLogEntry

__all__ = ["render_for"]

log = get_logger(__name__)


async def render_for(
    store: ReplierStore,
    renderer: TemplateRenderer,
    *,
    account: EmailAccount,
    event: ItemCreatedV1 | ItemUpdatedV1,
    notification: bool,
    recipient: str,
) -> Rendered:
    """Auto-reply: `auto_reply.template_id`; notification: `notification_template_id`."""
    values = context(event.item, account, inbound_mail(event))
    purpose, label = (
        ("notification", "notification") if notification else ("auto_reply", "auto-reply")
    )
    template_id, builtin = (
        (account.notification_template_id, BUILTIN_NOTIFICATION)
        if notification
        else (account.auto_reply.template_id, BUILTIN_AUTO_REPLY)
    )
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
                    id=f"{inbound_mail(event).mail_key}:replier:{purpose}_template:{recipient}",
                    mail_key=inbound_mail(event).mail_key,
                    account_id=account.id,
                    stage="replier",
                    action=f"{purpose}_template_failed",
                    reason=f"template {template_id} not used, the built-in one instead: {exc}",
                    item_id=event.item.item_id,
                    item_token=event.item.token,
                )
            )
    return render(builtin, values)
