"""Who hears about new mail on an item (docs/features.md F6)."""

from postroom_replier.domain.notify_rules import plan_notifications
from postroom_shared.contracts import AddressV1, ClassificationV1, MessageRefV1
from postroom_shared.models import Item, ItemType


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
        item=item, event="updated", message=_message(), own_addresses={"support@example.test"}
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
            item=quiet, event="created", message=_message(), own_addresses=set()
        ).recipients
        == ()
    )
    loud = _item(notify=["boss@x.test"], notify_on_create=True)
    assert plan_notifications(
        item=loud, event="created", message=_message(), own_addresses=set()
    ).recipients == ("boss@x.test",)
    ooo = plan_notifications(
        item=loud, event="updated", message=_message("out_of_office"), own_addresses=set()
    )
    assert ooo.recipients == () and "out_of_office" in ooo.suppressed[0][1]
    assert (
        plan_notifications(
            item=_item(), event="updated", message=_message(), own_addresses=set()
        ).recipients
        == ()
    )
