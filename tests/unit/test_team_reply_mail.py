"""A team reply as mailed: a person's mail (no automatic-mail headers), threaded, with the item
token, our loop header and the owner's signed Message-ID."""

from email import message_from_bytes, policy
from email.message import EmailMessage

from postroom_replier.domain.compose import (
    LOOP_HEADER,
    Attachment,
    OutboundMail,
    compose_team_reply,
)
from postroom_replier.domain.templates import Rendered
from postroom_shared.models import Party, ThreadMessage
from tests import factories

ITEM = factories.item_ref(7, "Printer", "open")
REPLY = ThreadMessage(
    key="cmd:1",
    item_id="it_1",
    account_id="acc1",
    direction="out",
    message_id="<signed.1@example.test>",
    in_reply_to=["<customer-2@x.test>"],
    references=["<customer-1@x.test>", "<customer-2@x.test>"],
    subject="Re: [INC-7] Printer",
    to=[Party(address="c@x.test")],
    text="We replaced it.",
    kind="team_reply",
)


def _parsed(mail: OutboundMail) -> EmailMessage:
    parsed = message_from_bytes(mail.data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_a_team_reply_is_person_to_person_mail_threaded_to_the_customer() -> None:
    sent = compose_team_reply(
        account=factories.account(),
        item=ITEM,
        reply=REPLY,
        recipient="c@x.test",
        instance="test",
        rendered=Rendered("ignored", "We replaced it.\n", "<p>We replaced it.</p>"),
        attachments=(Attachment("report.pdf", "application/pdf", b"%PDF-1.4"),),
    )
    mail = _parsed(sent)
    assert mail["From"] == "Support <support@example.test>"
    assert mail["To"] == "c@x.test"
    assert mail["Subject"] == "Re: [INC-7] Printer"
    assert mail["Message-ID"] == "<signed.1@example.test>"
    assert mail["In-Reply-To"] == "<customer-2@x.test>"
    assert mail["References"] == "<customer-1@x.test> <customer-2@x.test>"
    assert mail[LOOP_HEADER] == "test"
    for automatic in ("Auto-Submitted", "Precedence", "X-Auto-Response-Suppress"):
        assert mail[automatic] is None, automatic
    assert mail.get_body(("plain",)) is not None and mail.get_body(("html",)) is not None
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_filename() == "report.pdf"
    assert attachment.get_content() == b"%PDF-1.4"


def test_an_odd_content_type_is_sent_as_bytes() -> None:
    sent = compose_team_reply(
        account=factories.account(),
        item=ITEM,
        reply=REPLY.model_copy(update={"references": [], "in_reply_to": [], "subject": "Printer"}),
        recipient="c@x.test",
        instance="test",
        rendered=Rendered("s", "t\n", None),
        attachments=(Attachment("x", "multipart/mixed", b"raw"),),
    )
    mail = _parsed(sent)
    assert mail["In-Reply-To"] is None and mail["References"] is None
    assert mail["Subject"] == "Re: [INC-7] Printer"
    [attachment] = list(mail.iter_attachments())
    assert attachment.get_content_type() == "application/octet-stream"
