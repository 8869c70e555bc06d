"""The item commands' pure domain (domain/item_commands/): each command's change, the event
`changes` it names, its thread entry, and every refusal, without store or broker."""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from postroom_converter.domain.bounce import Bounce, BouncedRecipient
from postroom_converter.domain.bounce_marks import bounce_marks
from postroom_converter.domain.item_commands import (
    CommandRejected,
    Context,
    ReplyContext,
    VersionConflict,
    decide,
)
from postroom_shared.contracts import (
    ActorV1,
    AddNoteV1,
    AddReplyV1,
    AddressV1,
    AssignV1,
    ChangeStatusV1,
    ItemCommandEnvelope,
    SetFieldsV1,
    SetNotifyV1,
)
from postroom_shared.models import (
    Item,
    ItemType,
    Party,
    Person,
    ThreadMessage,
    Workflow,
    WorkflowStep,
)
from tests import factories

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
ACTOR = ActorV1(kind="user", id="usr_1", name="Ann")
WORKFLOW = Workflow(
    id="wf", name="Desk", steps=[WorkflowStep(name="new"), WorkflowStep(name="closed")]
)


def _item(**fields: Any) -> Item:
    base: dict[str, Any] = {
        "id": "it_1",
        "item_type": ItemType.INCIDENT,
        "number": 7,
        "project": "Support",
        "account_id": "acc1",
        "title": "Printer",
        "requester": Party(address="casey@example.org", name="Casey"),
        "participants": ["casey@example.org"],
        "version": 3,
        "workflow_id": "wf",
        "workflow_step": "new",
    }
    return Item.model_validate({**base, **fields})


def _cmd[C: ItemCommandEnvelope](model: type[C], **fields: Any) -> C:
    return model.model_validate(
        {"command_id": uuid.uuid4(), "source": "t", "item_id": "it_1", "actor": ACTOR, **fields}
    )


def _ctx(**fields: Any) -> Context:
    return Context(now=NOW, **fields)


def test_change_status_and_step_within_the_workflow() -> None:
    command = _cmd(ChangeStatusV1, status="closed", workflow_step="closed", expected_version=3)
    change = decide(_item(), command, _ctx(workflow=WORKFLOW))
    assert change.changes == ("status", "workflow_step")
    assert (change.item.status, change.item.workflow_step) == ("closed", "closed")
    assert (change.item.version, change.item.updated_at) == (4, NOW)
    assert change.message is None


@pytest.mark.parametrize(
    ("fields", "workflow", "why"),
    [
        ({"status": "done"}, WORKFLOW, "'done' is not a step of workflow 'Desk'"),
        ({"workflow_step": "limbo"}, WORKFLOW, "'limbo' is not a step"),
        ({"workflow_step": "closed"}, None, "has no workflow"),
        ({"status": "closed", "expected_version": 2}, WORKFLOW, "version 3, not 2"),
    ],
)
def test_change_status_refusals(fields: dict[str, Any], workflow: Any, why: str) -> None:
    with pytest.raises(CommandRejected, match=why):
        decide(_item(), _cmd(ChangeStatusV1, **fields), _ctx(workflow=workflow))


def test_a_stale_version_is_a_conflict() -> None:
    with pytest.raises(VersionConflict) as caught:
        decide(_item(), _cmd(AddNoteV1, text="x", expected_version=1), _ctx())
    assert caught.value.conflict


def test_change_status_needs_something_to_change() -> None:
    with pytest.raises(ValueError, match="status, a workflow_step"):
        _cmd(ChangeStatusV1)


def test_without_a_workflow_any_status_and_same_status_is_no_change() -> None:
    item = _item(workflow_id=None, workflow_step=None)
    assert decide(item, _cmd(ChangeStatusV1, status="waiting"), _ctx()).changes == ("status",)
    unchanged = decide(item, _cmd(ChangeStatusV1, status="new"), _ctx())
    assert unchanged.changes == () and unchanged.item.version == 3


def test_assign_only_to_a_user() -> None:
    user = Person(id="usr_2", kind="user", emails=["bo@example.test"])
    change = decide(_item(), _cmd(AssignV1, assignee_id="usr_2"), _ctx(person=user))
    assert (change.changes, change.item.assignee_id) == (("assignee",), "usr_2")
    customer = Person(id="cu_1", kind="customer", emails=["c@example.org"])
    with pytest.raises(CommandRejected, match="is a customer, not a user"):
        decide(_item(), _cmd(AssignV1, assignee_id="cu_1"), _ctx(person=customer))
    with pytest.raises(CommandRejected, match="no person 'usr_9'"):
        decide(_item(), _cmd(AssignV1, assignee_id="usr_9"), _ctx())
    unassigned = decide(_item(assignee_id="usr_2"), _cmd(AssignV1, assignee_id=None), _ctx())
    assert (unassigned.changes, unassigned.item.assignee_id) == (("assignee",), None)


def test_set_fields_sets_removes_and_checks_names() -> None:
    item = _item(fields={"team": "a", "old": "x"}, priority="low")
    command = _cmd(SetFieldsV1, priority="high", fields={"team": "b", "old": None})
    change = decide(item, command, _ctx())
    assert change.changes == ("priority", "fields")
    assert (change.item.priority, change.item.fields) == ("high", {"team": "b"})
    cleared = decide(item, _cmd(SetFieldsV1, priority=""), _ctx())
    assert (cleared.changes, cleared.item.priority) == (("priority",), None)
    with pytest.raises(CommandRejected, match="field name 'Bad Name'"):
        decide(item, _cmd(SetFieldsV1, fields={"Bad Name": "v"}), _ctx())


def test_set_notify_adds_removes_and_refuses_bad_addresses() -> None:
    item = _item(notify=["a@example.test"])
    command = _cmd(SetNotifyV1, add=["B@Example.test", "a@example.test"], remove=["a@example.test"])
    with pytest.raises(CommandRejected, match=r"add and remove a@example\.test"):
        decide(item, command, _ctx())
    change = decide(item, _cmd(SetNotifyV1, add=["B@Example.test"]), _ctx())
    assert (change.changes, change.item.notify) == (
        ("notify",),
        ["a@example.test", "b@example.test"],
    )
    gone = decide(item, _cmd(SetNotifyV1, remove=["a@example.test"]), _ctx())
    assert gone.item.notify == []
    with pytest.raises(CommandRejected, match="not a usable address"):
        decide(item, _cmd(SetNotifyV1, add=["not an address"]), _ctx())


def test_a_note_is_never_mail() -> None:
    command = _cmd(AddNoteV1, text="  called the customer  ")
    change = decide(_item(), command, _ctx())
    note = change.message
    assert change.changes == ("note_added",) and note is not None
    assert (note.direction, note.kind, note.text) == ("note", "note", "called the customer")
    assert note.key == f"cmd:{command.command_id}" and note.author_id == "usr_1"
    assert note.to == [] and note.message_id == "" and change.item.message_count == 0
    with pytest.raises(CommandRejected, match="needs text"):
        decide(_item(), _cmd(AddNoteV1, text="   "), _ctx())


def _reply_ctx(last: ThreadMessage | None) -> Context:
    reply = ReplyContext(
        account=factories.account(), message_id="<pr.it_1.n.sig@example.test>", last_inbound=last
    )
    return _ctx(reply=reply)


def test_a_team_reply_threads_to_the_last_inbound_mail() -> None:
    last = ThreadMessage(
        key="k2",
        item_id="it_1",
        account_id="acc1",
        direction="in",
        message_id="<m2@example.org>",
        references=["<m1@example.org>"],
        subject="Re: Printer",
    )
    change = decide(
        _item(), _cmd(AddReplyV1, text="Fixed it.", html="<p>Fixed</p>"), _reply_ctx(last)
    )
    reply = change.message
    assert change.changes == ("reply_added",) and reply is not None
    assert (reply.direction, reply.kind) == ("out", "team_reply")
    assert reply.key == "out:<pr.it_1.n.sig@example.test>"
    assert reply.in_reply_to == ["<m2@example.org>"]
    assert reply.references == ["<m1@example.org>", "<m2@example.org>"]
    assert reply.subject == "Re: [INC-7] Printer"
    assert reply.sender == Party(address="support@example.test", name="Support")
    assert [p.address for p in reply.to] == ["casey@example.org"]
    assert (reply.text, reply.html, reply.author_id) == ("Fixed it.", "<p>Fixed</p>", "usr_1")
    assert change.item.message_count == 1


def test_a_team_reply_to_named_people_and_its_refusals() -> None:
    to = [AddressV1(address="Lead@Example.test")]
    change = decide(_item(), _cmd(AddReplyV1, text="fyi", to=to), _reply_ctx(None))
    assert change.message is not None and change.message.in_reply_to == []
    assert change.message.subject == "Re: [INC-7] Printer"
    assert change.item.participants == ["casey@example.org", "lead@example.test"]
    with pytest.raises(CommandRejected, match="needs text"):
        decide(_item(), _cmd(AddReplyV1, text=" "), _reply_ctx(None))
    with pytest.raises(CommandRejected, match="no requester"):
        decide(_item(requester=None), _cmd(AddReplyV1, text="x"), _reply_ctx(None))


def test_only_hard_bounces_mark_people() -> None:
    recipients = (
        BouncedRecipient("Gone@example.org", "5.1.1"),
        BouncedRecipient("gone@example.org", ""),
    )
    [mark] = bounce_marks(Bounce(True, recipients), item_id="it_1", reason="Undelivered", at=NOW)
    assert (mark.address, mark.code, mark.item_id, mark.at) == (
        "gone@example.org",
        "5.1.1",
        "it_1",
        NOW,
    )
    assert bounce_marks(Bounce(False, recipients), item_id="it_1", reason="", at=NOW) == []
    assert bounce_marks(None, item_id="it_1", reason="", at=NOW) == []
