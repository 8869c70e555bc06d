"""Mail → item mapping: the account's field mapping, default values and options (docs/features.md
F3)."""

from datetime import timedelta

import pytest
from pydantic import ValidationError

from postroom_converter.domain.mapping import contact_for, mail_actor, new_item
from postroom_converter.domain.parse import Address, parse_mail
from postroom_shared.contracts import ActorV1, item_ref
from postroom_shared.models import ItemFromMail, utcnow
from tests import factories

RAW = (
    b"From: Casey <casey@example.org>\r\nTo: support@example.test\r\nCc: pal@example.org\r\n"
    b"Subject: Printer\r\nMessage-ID: <m1@example.org>\r\n"
    b"Date: Tue, 24 Nov 2026 09:00:00 +0000\r\n\r\nIt burns.\r\n\r\nOn Mon, Bob wrote:\r\n> old\r\n"
)


def _account(**options: object) -> factories.EmailAccount:
    account = factories.account()
    account.items = ItemFromMail.model_validate(options)
    return account


def test_defaults_match_the_reference_product() -> None:
    item = new_item(_account(), parse_mail(RAW), number=1, mail_key="k")
    assert item.title == "Printer"
    assert item.description.startswith("It burns.")
    assert item.requester is not None and item.requester.address == "casey@example.org"
    assert item.created_at.isoformat() == "2026-11-24T09:00:00+00:00"
    assert item.notify == [] and item.notify_on_create is False


def test_admin_mapping_defaults_and_notification_list() -> None:
    account = _account(
        field_mapping={
            "title": "sender_name",
            "description": "reply_text",
            "fields.origin": "message_id",
            "fields.copied": "cc",
        },
        defaults={"status": "triage", "priority": "high", "fields.channel": "mail"},
        add_sender_to_notifications=True,
        no_separate_notification_for_new=False,
    )
    item = new_item(account, parse_mail(RAW), number=1, mail_key="k", requester_id="ct_1")
    assert item.title == "Casey" and item.description == "It burns."
    assert item.requester is None  # not mapped
    assert item.fields == {
        "origin": "<m1@example.org>",
        "copied": "pal@example.org",
        "channel": "mail",
    }
    assert (item.status, item.priority, item.requester_id) == ("triage", "high", "ct_1")
    assert item.notify == ["casey@example.org"] and item.notify_on_create is True


def test_implausible_dates_are_not_trusted() -> None:
    future = RAW.replace(b"24 Nov 2026", b"24 Nov 2099")
    item = new_item(_account(), parse_mail(future), number=1, mail_key="k")
    assert abs(item.created_at - utcnow()) < timedelta(seconds=5)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("field_mapping", {"owner": "subject"}),
        ("field_mapping", {"title": "body_html"}),
        ("defaults", {"title": "x"}),
        ("defaults", {"fields.Bad-Name": "x"}),
    ],
)
def test_invalid_options_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        ItemFromMail.model_validate({field: value})


def test_contacts_for_unknown_senders_are_deterministic() -> None:
    one = contact_for(Address(address="new@example.org", name="New"))
    assert one.id == contact_for(Address(address="new@example.org", name="Other")).id
    assert (one.kind, one.emails) == ("contact", ["new@example.org"])


def test_items_record_the_accounts_creator_and_the_requester() -> None:
    account = _account()
    account.creator = "usr_lead"
    item = new_item(account, parse_mail(RAW), number=1, mail_key="k", requester_id="ct_1")
    assert (item.creator_id, item.requester_id, item.assignee_id) == ("usr_lead", "ct_1", None)
    ref = item_ref(item)  # what item.created.v1 / item.updated.v1 carry
    assert (ref.creator_id, ref.requester_id, ref.assignee_id) == ("usr_lead", "ct_1", None)


def test_a_mails_change_is_credited_to_its_sender() -> None:
    actor = mail_actor(parse_mail(RAW))
    assert actor == ActorV1(kind="mail", id="casey@example.org", name="Casey")
    assert mail_actor(parse_mail(b"Subject: no sender\r\n\r\nbody\r\n")) is None
