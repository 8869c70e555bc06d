"""`item.change_status.v1`: set an item's status and/or workflow step.

A workflow names the steps its items go through; an item with one only takes its steps, as
workflow step and as status, so a typo cannot strand an item in a state no rule knows (the
mail path moves items along the same steps: docs/features.md F4). An item without a workflow
takes any status and no step.
"""

from postroom_converter.domain.item_commands.base import (
    Change,
    CommandRejected,
    Context,
    check_version,
    next_state,
)
from postroom_shared.contracts import ChangeStatusV1, ItemChange
from postroom_shared.models import Item

__all__ = ["change_status"]


def change_status(item: Item, command: ChangeStatusV1, context: Context) -> Change:
    check_version(item, command)
    workflow = context.workflow
    steps = [step.name for step in workflow.steps] if workflow else []
    if command.workflow_step is not None:
        if workflow is None:
            raise CommandRejected(f"item {item.token} has no workflow, so no workflow step")
        if command.workflow_step not in steps:
            raise CommandRejected(
                f"workflow step {command.workflow_step!r} is not a step of workflow"
                f" {workflow.name!r} (steps: {', '.join(steps)})"
            )
    if command.status is not None and workflow is not None and command.status not in steps:
        raise CommandRejected(
            f"status {command.status!r} is not a step of workflow {workflow.name!r}"
            f" (steps: {', '.join(steps)})"
        )
    changes: list[ItemChange] = []
    updates: dict[str, str] = {}
    if command.status is not None and command.status != item.status:
        changes.append("status")
        updates["status"] = command.status
    if command.workflow_step is not None and command.workflow_step != item.workflow_step:
        changes.append("workflow_step")
        updates["workflow_step"] = command.workflow_step
    if not changes:
        return Change(item, ())
    return Change(next_state(item, context.now, **updates), tuple(changes))
