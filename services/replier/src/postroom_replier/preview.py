"""Template preview for the API (docs/features.md F5 "editable, previewable"): a template rendered
against a real stored item, its account and its last inbound mail, exactly as a real send renders it
(same sandbox, same budgets, same worker processes with a deadline, same subject with the item
token), so a hostile template cannot stall the API's event loop.

A template that does not render is the point of previewing: its error comes back in
`Preview.error` (with `over_budget` when it hit an operation limit, the memory cap or the
deadline), never as an exception and never as half a mail.
"""

from dataclasses import dataclass

from postroom_replier.domain.compose import final_subject
from postroom_replier.domain.templates import TemplateBudgetError, TemplateError, context
from postroom_replier.renderer import TemplateRenderer
from postroom_replier.store import PreviewStore
from postroom_shared.contracts import (
    AddressV1,
    ClassificationV1,
    ItemRefV1,
    MessageRefV1,
    item_ref,
)
from postroom_shared.models import (
    EmailAccount,
    Item,
    ItemType,
    NotificationTemplate,
    ThreadMessage,
)

__all__ = ["Preview", "message_ref", "preview_template", "render_preview"]

_NORMAL = ClassificationV1(kind="normal", auto_submitted=False)
SAMPLE_ITEM = ItemRefV1(
    item_id="it_sample",
    item_type=ItemType.INCIDENT.value,
    number=42,
    token="INC-42",  # noqa: S106 (an item token, not a secret)
    project="Support",
    title="The printer on floor 2 prints blank pages",
    status="new",
    account_id="acc_sample",
)
SAMPLE_MESSAGE = MessageRefV1(
    mail_key="sample",
    message_id="<sample@example.test>",
    subject="The printer on floor 2 prints blank pages",
    sender=AddressV1(address="casey@example.test", name="Casey Customer"),
    classification=_NORMAL,
)


@dataclass(frozen=True)
class Preview:
    subject: str
    text: str
    html: str | None
    error: str | None = None
    over_budget: bool = False  # the error is an operation limit, the memory cap or the deadline


def message_ref(item: Item, inbound: ThreadMessage | None) -> MessageRefV1:
    """The item's last inbound mail as the item events describe it; without one (an item
    created otherwise), the item's title and requester stand in."""
    if inbound is None:
        return MessageRefV1(
            mail_key="",
            message_id="",
            subject=item.title,
            sender=AddressV1(address=item.requester.address, name=item.requester.name)
            if item.requester
            else None,
            classification=_NORMAL,
        )
    return MessageRefV1(
        mail_key=inbound.key,
        message_id=inbound.message_id,
        references=tuple(inbound.references),
        subject=inbound.subject,
        sender=AddressV1(address=inbound.sender.address, name=inbound.sender.name)
        if inbound.sender
        else None,
        to=tuple(AddressV1(address=p.address, name=p.name) for p in inbound.to),
        cc=tuple(AddressV1(address=p.address, name=p.name) for p in inbound.cc),
        classification=_NORMAL,
    )


async def render_preview(
    renderer: TemplateRenderer,
    template: NotificationTemplate,
    item: ItemRefV1,
    account: EmailAccount,
    message: MessageRefV1,
) -> Preview:
    """The template rendered as a real send would render it, or the error."""
    try:
        rendered = await renderer.render(template, context(item, account, message))
    except TemplateError as exc:
        over = isinstance(exc, TemplateBudgetError)
        return Preview(subject="", text="", html=None, error=str(exc), over_budget=over)
    return Preview(
        subject=final_subject(rendered.subject, item), text=rendered.text, html=rendered.html
    )


def _sample_account(account_id: str | None) -> EmailAccount:
    return EmailAccount(
        id=account_id or "acc_sample",
        name="Support",
        address="support@example.test",
        project="Support",
        provider="push",
    )


async def preview_template(
    store: PreviewStore,
    template: NotificationTemplate,
    *,
    item_id: str | None,
    account_id: str | None,
    renderer: TemplateRenderer,
) -> Preview:
    """`template` rendered for item `item_id` (its account unless `account_id` is given, and
    its last inbound mail); without an item, for a sample item and mail. Unknown ids come back
    as `error` too."""
    account: EmailAccount | None = None
    if account_id is not None:
        account = await store.get_account(account_id)
        if account is None:
            return Preview(subject="", text="", html=None, error=f"no account {account_id!r}")
    if item_id is None:
        return await render_preview(
            renderer, template, SAMPLE_ITEM, account or _sample_account(None), SAMPLE_MESSAGE
        )
    item = await store.get_item(item_id)
    if item is None:
        return Preview(subject="", text="", html=None, error=f"no item {item_id!r}")
    if account is None:
        account = await store.get_account(item.account_id) or _sample_account(item.account_id)
    inbound = [m for m in await store.list_messages(item.id) if m.direction == "in"]
    return await render_preview(
        renderer,
        template,
        item_ref(item),
        account,
        message_ref(item, inbound[-1] if inbound else None),
    )
