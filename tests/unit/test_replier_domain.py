"""Replier domain: who gets an auto-reply, and what it looks like."""

from email import message_from_bytes, policy

from postroom_replier.domain.compose import compose_auto_reply
from postroom_replier.domain.loop_rules import plan_auto_reply
from postroom_replier.domain.templates import BUILTIN_AUTO_REPLY, context, render
from postroom_shared.contracts import AddressV1, ClassificationV1, ItemRefV1, MessageRefV1
from postroom_shared.models import AutoReplySettings
from tests import factories

ACCOUNT = factories.account()
NORMAL = ClassificationV1(kind="normal", auto_submitted=False)
ITEM = ItemRefV1(
    item_id="it_1",
    item_type="incident",
    number=7,
    token="INC-7",
    project="Support",
    title="Printer",
    status="new",
    account_id="acc1",
)


def _message(sender: str = "cust@x.test", **kw: object) -> MessageRefV1:
    fields: dict[str, object] = {
        "mail_key": "k",
        "message_id": "<m1@x.test>",
        "subject": "Printer",
        "sender": AddressV1(address=sender, name="Cust"),
        "classification": NORMAL,
    }
    fields.update(kw)
    return MessageRefV1.model_validate(fields)


OWN = {"support@example.test"}


def test_first_mail_gets_a_reply() -> None:
    plan = plan_auto_reply(account=ACCOUNT, event="created", message=_message(), own_addresses=OWN)
    assert plan.recipients == ("cust@x.test",) and plan.suppressed == ()


def test_follow_up_is_silent_when_first_mail_only() -> None:
    plan = plan_auto_reply(account=ACCOUNT, event="updated", message=_message(), own_addresses=OWN)
    assert plan.recipients == ()
    assert "first mail" in plan.suppressed[0][1]


def test_automatic_senders_are_never_answered() -> None:
    auto = ClassificationV1(kind="auto_reply", auto_submitted=True, reasons=("Auto-Submitted: x",))
    for message in (
        _message(classification=auto),
        _message(return_path_null=True),
        _message(sender="MAILER-DAEMON@x.test"),
        _message(sender="no-reply@x.test"),
        _message(sender="support@example.test"),
    ):
        plan = plan_auto_reply(account=ACCOUNT, event="created", message=message, own_addresses=OWN)
        assert plan.recipients == (), message


def test_cc_only_when_enabled_and_never_to_ourselves() -> None:
    account = ACCOUNT.model_copy(update={"auto_reply": AutoReplySettings(send_to_cc=True)})
    message = _message(
        cc=[AddressV1(address="pal@x.test"), AddressV1(address="support@example.test")]
    )
    plan = plan_auto_reply(account=account, event="created", message=message, own_addresses=OWN)
    assert plan.recipients == ("cust@x.test", "pal@x.test")
    assert plan.suppressed[0][0] == "support@example.test"


def test_reply_to_is_preferred() -> None:
    message = _message(reply_to=[AddressV1(address="desk@x.test")])
    plan = plan_auto_reply(account=ACCOUNT, event="created", message=message, own_addresses=OWN)
    assert plan.recipients == ("desk@x.test",)


def test_composed_reply_carries_loop_headers_and_threading() -> None:
    inbound = _message(subject="Printer\r\nBcc: evil@x.test", references=("<r0@x.test>",))
    rendered = render(BUILTIN_AUTO_REPLY, context(ITEM, ACCOUNT, inbound))
    mail = compose_auto_reply(
        account=ACCOUNT,
        item=ITEM,
        inbound=inbound,
        recipient="cust@x.test",
        message_id="<pr.it_1.n.sig@example.test>",
        instance="demo",
        rendered=rendered,
    )
    parsed = message_from_bytes(mail.data, policy=policy.default)
    assert parsed["From"] == "Support <support@example.test>"
    assert "[INC-7]" in parsed["Subject"] and "\n" not in parsed["Subject"]
    assert parsed["Bcc"] is None
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed["X-Auto-Response-Suppress"] == "All"
    assert parsed["X-Postroom-Loop"] == "demo"
    assert parsed["In-Reply-To"] == "<m1@x.test>"
    assert parsed["References"] == "<r0@x.test> <m1@x.test>"
    assert parsed["Message-ID"] == "<pr.it_1.n.sig@example.test>"
