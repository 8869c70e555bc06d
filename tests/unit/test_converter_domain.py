"""Converter domain on real third-party mail: parsing, classification, threading decisions."""

from pathlib import Path

import pytest

from postroom_converter.domain.classify import classify
from postroom_converter.domain.mapping import item_id_for, new_item, participants_of
from postroom_converter.domain.parse import MAX_MAIL_BYTES, MailTooLarge, parse_mail
from postroom_converter.domain.threading import Candidates, decide_thread
from postroom_shared.models import Item, ItemType
from tests import factories

MAIL = Path(__file__).parent.parent / "fixtures" / "mail"


def _classify(raw: bytes, *, ours: bool = False) -> str:
    return classify(
        parse_mail(raw), is_our_message_id=lambda _: ours, loop_header="x-postroom-loop"
    ).kind


@pytest.mark.parametrize("name", ["rfc3834-01", "rfc3834-02", "rfc3834-04", "rfc3834-05"])
def test_rfc3834_auto_replies_are_automatic(name: str) -> None:
    mail = parse_mail((MAIL / "sisimai" / f"{name}.eml").read_bytes())
    result = classify(mail, is_our_message_id=lambda _: False, loop_header="x-postroom-loop")
    assert result.auto_submitted
    assert result.kind in {"auto_reply", "out_of_office"}
    assert result.reasons


@pytest.mark.parametrize("name", ["lhost-postfix-01", "lhost-postfix-02"])
def test_postfix_dsns_are_bounces(name: str) -> None:
    assert _classify((MAIL / "sisimai" / f"{name}.eml").read_bytes()) == "bounce"


@pytest.mark.parametrize("name", ["is-not-bounce-01", "is-not-bounce-02"])
def test_ordinary_mail_is_normal(name: str) -> None:
    assert _classify((MAIL / "sisimai" / f"{name}.eml").read_bytes()) == "normal"


@pytest.mark.parametrize("path", sorted((MAIL / "django-helpdesk").glob("*.eml")), ids=str)
def test_awkward_encodings_parse(path: Path) -> None:
    mail = parse_mail(path.read_bytes())
    assert mail.subject
    assert mail.sender is not None


def test_own_loop_wins_over_everything() -> None:
    raw = b"From: a@x.test\r\nX-Postroom-Loop: demo\r\nAuto-Submitted: auto-replied\r\n\r\nhi\r\n"
    assert _classify(raw) == "own_loop"
    assert _classify(b"From: a@x.test\r\nMessage-ID: <x@y>\r\n\r\nhi\r\n", ours=True) == "own_loop"


def test_list_and_precedence() -> None:
    assert _classify(b"From: a@x.test\r\nList-Id: <l.x.test>\r\n\r\nhi\r\n") == "list"
    assert _classify(b"From: a@x.test\r\nPrecedence: bulk\r\n\r\nhi\r\n") == "auto_reply"
    assert _classify(b"From: a@x.test\r\nAuto-Submitted: no\r\n\r\nhi\r\n") == "normal"


def test_garbage_never_raises_and_size_is_capped() -> None:
    mail = parse_mail(b"\x00\xff\xfe garbage without headers")
    assert mail.message_id == "" and mail.sender is None
    with pytest.raises(MailTooLarge):
        parse_mail(b"x" * (MAX_MAIL_BYTES + 1))


def test_header_fields_are_extracted() -> None:
    raw = (
        b"From: =?utf-8?q?Ren=C3=A9?= <Rene@Example.TEST>\r\n"
        b"To: support@example.test\r\nCc: Boss <boss@example.test>\r\n"
        b"Subject: =?utf-8?q?Drucker_kaputt?=\r\nMessage-ID: <m1@example.test>\r\n"
        b"In-Reply-To: <a@x>\r\nReferences: <r1@x> <a@x>\r\n"
        b"Date: Tue, 24 Nov 2026 10:00:00 +0100\r\n\r\nDer Drucker brennt.\r\n"
    )
    mail = parse_mail(raw)
    assert mail.sender is not None
    assert (mail.sender.address, mail.sender.name) == ("rene@example.test", "René")
    assert mail.subject == "Drucker kaputt"
    assert mail.in_reply_to == ("<a@x>",) and mail.references == ("<r1@x>", "<a@x>")
    assert mail.date is not None and mail.date.hour == 9
    assert mail.text == "Der Drucker brennt."


ACCOUNT = factories.account()


def _item(participants: list[str]) -> Item:
    return Item(
        id="it_1",
        item_type=ItemType.INCIDENT,
        number=1,
        project="Support",
        account_id="acc1",
        title="t",
        participants=participants,
    )


def test_threading_order_and_anti_hijack() -> None:
    a, b, c = _item(["x@y"]), _item(["cust@x.test"]), _item([])
    assert decide_thread("cust@x.test", Candidates(signed=a, by_token=b)).item is a
    assert decide_thread("cust@x.test", Candidates(by_token=b)).item is b
    stranger = decide_thread("evil@x.test", Candidates(by_token=b))
    assert stranger.item is None and "anti-hijack" in stranger.reason
    assert decide_thread("evil@x.test", Candidates(by_token=b, by_reference=c)).item is c
    assert decide_thread("a@b", Candidates()).item is None


def test_mapping_new_item() -> None:
    mail = parse_mail(
        b"From: Cust <cust@x.test>\r\nCc: support@example.test, pal@x.test\r\n"
        b"Subject: Help\r\n\r\nbody\r\n"
    )
    item = new_item(ACCOUNT, mail, number=5, mail_key="acc1/INBOX/1/5")
    assert item.token == "INC-5" and item.title == "Help" and item.description == "body"
    assert item.id == item_id_for("acc1/INBOX/1/5")
    assert participants_of(mail, ACCOUNT) == ["cust@x.test", "pal@x.test"]
