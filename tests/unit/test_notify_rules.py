"""Who hears about what happens to an item (docs/features.md F6): new mail, new items, status
changes and team replies; never the actor, never twice for one change."""

from datetime import UTC, datetime

from postroom_replier.domain.loop_rules import ReplyPlan
from postroom_replier.domain.notify_rules import (
    ACTOR,
    REPLY_RECIPIENT,
    bounce_note,
    ledger_reason,
    not_to,
    notify_event,
    plan_notifications,
    without_bounced,
)
from postroom_shared.contracts import AddressV1, ClassificationV1, MessageRefV1
from postroom_shared.metrics import SUPPRESSION_CODES, suppression_code
from postroom_shared.models import BounceMark, Item, ItemType


def _item(**fields: object) -> Item:
    return Item.model_validate(
        {
            "id": "it_1",
            "item_type": ItemType.INCIDENT,
            "number": 1,
            "project": "P",
            "account_id": "a",
            "title": "t",
            **fields,
        }
    )


def _message(kind: str = "normal", sender: str = "cust@x.test") -> MessageRefV1:
    return MessageRefV1.model_validate(
        {
            "mail_key": "k",
            "message_id": "<m@x>",
            "sender": AddressV1(address=sender),
            "classification": ClassificationV1.model_validate(
                {"kind": kind, "auto_submitted": kind != "normal"}
            ),
        }
    )


def test_list_members_but_not_the_author_or_machines() -> None:
    item = _item(notify=["Boss@X.test", "cust@x.test", "support@example.test", "noreply@x.test"])
    plan = plan_notifications(
        item=item, event="mail_update", message=_message(), own_addresses={"support@example.test"}
    )
    assert plan.recipients == ("boss@x.test",)
    assert [who for who, _ in plan.suppressed] == [
        "cust@x.test",
        "support@example.test",
        "noreply@x.test",
    ]


def test_new_items_follow_the_account_option_and_automatic_mail_notifies_nobody() -> None:
    quiet = _item(notify=["boss@x.test"], notify_on_create=False)
    assert (
        plan_notifications(
            item=quiet, event="item_created", message=_message(), own_addresses=set()
        ).recipients
        == ()
    )
    loud = _item(notify=["boss@x.test"], notify_on_create=True)
    assert plan_notifications(
        item=loud, event="item_created", message=_message(), own_addresses=set()
    ).recipients == ("boss@x.test",)
    ooo = plan_notifications(
        item=loud, event="mail_update", message=_message("out_of_office"), own_addresses=set()
    )
    assert ooo.recipients == () and "out_of_office" in ooo.suppressed[0][1]
    assert (
        plan_notifications(
            item=_item(), event="mail_update", message=_message(), own_addresses=set()
        ).recipients
        == ()
    )


def test_each_item_event_is_one_notification_event() -> None:
    assert notify_event(True, ()) == "item_created"
    assert notify_event(False, ("message_appended",)) == "mail_update"
    # a mail that also moved the status is one notification: about the mail
    assert notify_event(False, ("message_appended", "status", "workflow_step")) == "mail_update"
    assert notify_event(False, ("status",)) == "status_changed"
    assert notify_event(False, ("workflow_step",)) == "status_changed"
    assert notify_event(False, ("reply_added",)) == "team_reply"
    for quiet in ("assignee", "priority", "fields", "notify", "note_added"):
        assert notify_event(False, (quiet,)) is None


def test_a_status_change_reaches_the_list_but_never_its_actor() -> None:
    item = _item(notify=["boss@x.test", "Agent@X.test", "cust@x.test"])
    plan = plan_notifications(
        item=item,
        event="status_changed",
        message=None,  # made by a person through the API, no mail involved
        own_addresses=set(),
        excluded=not_to(actor_addresses=["agent@x.test"], reply_recipients=()),
    )
    assert plan.recipients == ("boss@x.test", "cust@x.test")
    assert plan.suppressed == (("agent@x.test", ACTOR),)


def test_a_team_reply_notifies_neither_its_author_nor_its_recipients() -> None:
    item = _item(notify=["boss@x.test", "agent@x.test", "cust@x.test"])
    plan = plan_notifications(
        item=item,
        event="team_reply",
        message=None,
        own_addresses=set(),
        excluded=not_to(actor_addresses=["agent@x.test"], reply_recipients=["CUST@x.test"]),
    )
    assert plan.recipients == ("boss@x.test",)
    assert dict(plan.suppressed) == {"agent@x.test": ACTOR, "cust@x.test": REPLY_RECIPIENT}


def test_an_actor_who_also_got_the_reply_is_named_as_the_actor() -> None:
    excluded = not_to(actor_addresses=["a@x.test"], reply_recipients=["a@x.test"])
    assert excluded == {"a@x.test": ACTOR}


def test_one_change_is_one_ledger_key_per_recipient() -> None:
    # mail keeps the key mail notifications always had (a redelivery across an upgrade)
    mail = ledger_reason("notification", "mail_update", mail_key="k1", change_id="e1")
    assert mail == "notification:k1"
    assert ledger_reason("notification", "item_created", mail_key="k1", change_id="e1") == mail
    # a change made by a command: keyed by the command, whatever event id it came with
    by_command = ledger_reason("notification", "status_changed", mail_key=None, change_id="c1")
    assert by_command == "notification:status_changed:c1"
    assert by_command != ledger_reason(
        "notification", "status_changed", mail_key=None, change_id="c2"
    )
    assert ledger_reason("notification", "team_reply", mail_key=None, change_id="c1") != (
        by_command
    )


def test_bounced_recipients_are_suppressed_with_their_mark() -> None:
    plan = ReplyPlan(("a@x.test", "b@x.test"), (("c@x.test", "the recipient wrote this mail"),))
    held = without_bounced(plan, {"b@x.test": "550 5.1.1 user unknown (2025-01-02)"})
    assert held.recipients == ("a@x.test",)
    assert held.suppressed[-1] == (
        "b@x.test",
        "bounced_address: 550 5.1.1 user unknown (2025-01-02)",
    )
    assert held.suppressed[0] == plan.suppressed[0]
    assert without_bounced(plan, {}) == plan


def test_the_new_reasons_have_their_own_metric_codes() -> None:
    held = without_bounced(ReplyPlan(("b@x.test",)), {"b@x.test": "550 5.1.1 no such user"})
    assert suppression_code(held.suppressed[0][1]) == "bounced_address"
    assert suppression_code(ACTOR) == "author"
    assert suppression_code(REPLY_RECIPIENT) == "reply_recipient"
    assert {"bounced_address", "reply_recipient"} <= set(SUPPRESSION_CODES)


def test_a_bounce_mark_reads_as_code_reason_and_date() -> None:
    mark = BounceMark(
        address="b@x.test",
        code="5.1.1",
        reason="user unknown",
        at=datetime(2025, 1, 2, tzinfo=UTC),
    )
    assert bounce_note(mark) == "5.1.1 user unknown (bounced 2025-01-02)"
    bare = BounceMark(address="b@x.test", at=datetime(2025, 1, 2, tzinfo=UTC))
    assert bounce_note(bare) == "hard bounce (bounced 2025-01-02)"
