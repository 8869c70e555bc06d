"""Notification templates, workflows, people, item types and projects over HTTP."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from postroom_api.schemas.common import Address, Id, In, Label, Name, Problem
from postroom_shared.models import (
    TOKEN_PREFIXES,
    ItemType,
    NotificationTemplate,
    Person,
    Workflow,
)

__all__ = [
    "BounceView",
    "DraftPreviewIn",
    "ItemTypeView",
    "PersonIn",
    "PersonView",
    "PreviewIn",
    "PreviewView",
    "ProjectView",
    "TemplateIn",
    "TemplateView",
    "WorkflowIn",
    "WorkflowStepIn",
    "WorkflowView",
]

_StepName = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class TemplateIn(In):
    """A notification template: Jinja2 (sandboxed) over `item`, `account` and `message`."""

    name: Name
    subject: Annotated[str, StringConstraints(min_length=1, max_length=1000)] = Field(
        default="{{ item.token_brackets }} {{ message.subject }}",
        description="Subject template; keep the item token so replies thread.",
    )
    text: Annotated[str, StringConstraints(min_length=1, max_length=100_000)] = Field(
        description="Plain-text body template."
    )
    html: Annotated[str, StringConstraints(max_length=200_000)] | None = Field(
        default=None, description="HTML body template; null: text only."
    )


class TemplateView(BaseModel):
    id: str
    name: str
    subject: str
    text: str
    html: str | None

    @classmethod
    def of(cls, template: NotificationTemplate) -> "TemplateView":
        return cls.model_validate(template.model_dump())


class PreviewIn(In):
    item_id: Id | None = Field(
        default=None, description="Render against this stored item and its last mail."
    )
    account_id: Id | None = Field(
        default=None, description="Account to render `account` with; default: the item's."
    )


class DraftPreviewIn(PreviewIn):
    template: TemplateIn = Field(description="The template as it would be saved.")


class PreviewView(BaseModel):
    subject: str
    text: str
    html: str | None
    error: str | None = Field(description="Why the template could not be rendered, if so.")


class WorkflowStepIn(In):
    name: _StepName
    on_new_email: _StepName | None = Field(
        default=None,
        description="Step an item in this step moves to when a new email comes in for it"
        " (e.g. reopen a closed help-desk item); must name a step of this workflow.",
    )


class WorkflowIn(In):
    name: Name
    steps: list[WorkflowStepIn] = Field(
        min_length=1, max_length=100, description="New items start in the first step."
    )

    def problems(self) -> list[Problem]:
        found: list[Problem] = []
        names = [step.name for step in self.steps]
        for index, step in enumerate(self.steps):
            if step.name in names[:index]:
                found.append((("steps", index, "name"), f"step {step.name!r} is listed twice"))
            if step.on_new_email is not None and step.on_new_email not in names:
                found.append(
                    (
                        ("steps", index, "on_new_email"),
                        f"no step named {step.on_new_email!r} in this workflow",
                    )
                )
        return found


class WorkflowView(BaseModel):
    id: str
    name: str
    steps: list[WorkflowStepIn]

    @classmethod
    def of(cls, workflow: Workflow) -> "WorkflowView":
        return cls.model_validate(workflow.model_dump())


class PersonIn(In):
    """A customer, user or contact that incoming mail is mapped to by address."""

    kind: Literal["customer", "user", "contact"]
    name: Label = ""
    emails: list[Address] = Field(
        min_length=1, max_length=50, description="Addresses; each belongs to one person only."
    )


class BounceView(BaseModel):
    """A hard bounce of mail to one of the person's addresses: automatic mail to it is held
    back until an admin clears the mark (DELETE /v1/people/{id}/bounce)."""

    address: str
    code: str = Field(description="Status code of the bounce, e.g. 5.1.1 or 550.")
    reason: str
    at: datetime
    item_id: str | None = Field(description="The item whose mail bounced.")


class PersonView(BaseModel):
    id: str
    kind: str
    name: str
    emails: list[str]
    bounce: BounceView | None = Field(description="Set by a hard bounce; null when clear.")
    created_at: datetime

    @classmethod
    def of(cls, person: Person) -> "PersonView":
        return cls.model_validate(person.model_dump())


class ItemTypeView(BaseModel):
    id: ItemType
    token_prefix: str = Field(examples=["INC"], description="Prefix of the subject token.")

    @classmethod
    def all(cls) -> list["ItemTypeView"]:
        return [cls(id=t, token_prefix=TOKEN_PREFIXES[t]) for t in ItemType]


class ProjectView(BaseModel):
    name: str
    account_ids: list[str] = Field(description="Accounts whose new items go to this project.")
