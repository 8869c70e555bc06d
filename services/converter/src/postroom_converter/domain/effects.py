"""What a new mail does to the item it threads onto (docs/features.md F4, F10).

Only mail from a person moves an item: out-of-office replies, other automatic mail and lists
are threaded but change nothing, and a bounce only records which recipients bounced.
"""

from postroom_shared.contracts import MailKind
from postroom_shared.models import EmailAccount, Item, Workflow
from postroom_shared.store import ItemChanges

__all__ = ["reply_changes", "starting_step"]


def starting_step(workflow: Workflow | None) -> str | None:
    """New items start in the first step of the account's workflow."""
    return workflow.steps[0].name if workflow else None


def reply_changes(
    *,
    account: EmailAccount,
    item: Item,
    workflow: Workflow | None,
    kind: MailKind,
    bounced: tuple[str, ...] = (),
) -> ItemChanges:
    if kind == "bounce":
        return ItemChanges(bounced=bounced)
    if kind != "normal":
        return ItemChanges()
    status = account.on_reply.change_status_to
    step = (
        workflow.next_step_on_email(item.workflow_step)
        if account.on_reply.move_workflow_step and workflow is not None
        else None
    )
    return ItemChanges(
        status=status if status and status != item.status else None,
        workflow_step=step if step and step != item.workflow_step else None,
    )
