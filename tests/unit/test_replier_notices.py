"""Too-large notices: who is told (pure loop rules on what the event carries) and what it says."""

from email import message_from_bytes, policy

import pytest

from postroom_replier.domain.compose import compose_too_large_notice, megabytes
from postroom_replier.domain.too_large import notice_key, plan_too_large_notice
from postroom_shared.contracts import AddressV1, MailQuarantinedV1, deterministic_event_id
from tests import factories

ACCOUNT = factories.account().model_copy(update={"max_mail_bytes": 25 * 1024 * 1024})
OWN = {"support@example.test", "sales@example.test"}


def _event(
    sender: str | None = "Casey@Example.org", subject: str = "Scans", **kw: object
) -> MailQuarantinedV1:
    fields: dict[str, object] = {
        "event_id": deterministic_event_id("k"),
        "source": "fetcher",
        "correlation_id": "k",
        "account_id": "acc1",
        "mail_key": "k",
        "quarantine_id": "q_0123456789abcdef0123",
        "reason": "too large",
        "too_large": True,
        "sender": AddressV1(address=sender) if sender else None,
        "subject": subject,
        "size": 31_457_280,
    }
    fields.update(kw)
    return MailQuarantinedV1.model_validate(fields)


def test_the_sender_of_a_too_large_mail_is_told() -> None:
    plan = plan_too_large_notice(event=_event(), account=ACCOUNT, own_addresses=OWN)
    assert plan.applies and plan.recipient == "casey@example.org" and plan.why is None


def test_other_quarantined_mail_is_not_a_notice_case() -> None:
    plan = plan_too_large_notice(event=_event(too_large=False), account=ACCOUNT, own_addresses=OWN)
    assert not plan.applies


@pytest.mark.parametrize(
    ("event", "why"),
    [
        (_event("MAILER-DAEMON@mx.example.org"), "daemon"),
        (_event("postmaster@example.org"), "daemon"),
        (_event("no-reply@shop.example"), "no-reply"),
        (_event("bounces+123@lists.example"), "daemon"),
        (_event("Sales@Example.test"), "our own"),
        (_event(None), "no usable sender"),
        (_event("not-an-address"), "no usable sender"),
        (_event(subject="Undelivered Mail Returned to Sender"), "looks automatic"),
        (_event(subject="Delivery Status Notification (Failure)"), "looks automatic"),
        (_event(subject="Automatic reply: Scans"), "looks automatic"),
        (_event(subject="Out of Office: Scans"), "looks automatic"),
    ],
)
def test_automatic_or_own_senders_are_never_told(event: MailQuarantinedV1, why: str) -> None:
    plan = plan_too_large_notice(event=event, account=ACCOUNT, own_addresses=OWN)
    assert plan.applies and plan.why is not None and why in plan.why


def test_the_account_option_and_an_unknown_account_are_respected() -> None:
    quiet = ACCOUNT.model_copy(update={"tell_sender_when_too_large": False})
    plan = plan_too_large_notice(event=_event(), account=quiet, own_addresses=OWN)
    assert plan.why is not None and "does not tell senders" in plan.why
    plan = plan_too_large_notice(event=_event(), account=None, own_addresses=OWN)
    assert plan.why is not None and "unknown account" in plan.why


def test_megabytes() -> None:
    assert megabytes(25 * 1024 * 1024) == "25 MB"
    assert megabytes(1_572_864) == "1.5 MB"
    assert megabytes(31_457_281) == "30 MB"


def test_notice_key_fits_a_signed_message_id() -> None:
    assert notice_key("q_0123456789abcdef0123") == "q_0123456789abcdef0123"
    odd = notice_key("acc1/INBOX/5/7 too-large")
    assert odd.startswith("q_") and len(odd) == 22 and odd == notice_key("acc1/INBOX/5/7 too-large")


def test_notice_is_short_loop_safe_and_header_clean() -> None:
    mail = compose_too_large_notice(
        account=ACCOUNT,
        recipient="casey@example.org",
        subject="Scans\r\nBcc: victim@example.org",
        size=31_457_280,
        limit=ACCOUNT.max_mail_bytes,
        message_id="<pr.q_1.n.sig@example.test>",
        instance="prod",
    )
    parsed = message_from_bytes(mail.data, policy=policy.default)
    assert parsed["Bcc"] is None  # no header injection through the subject
    assert parsed["Subject"] == "Not processed (too large): Scans Bcc: victim@example.org"
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert parsed["X-Auto-Response-Suppress"] == "All"
    assert parsed["X-Postroom-Loop"] == "prod"
    assert parsed["Message-ID"] == "<pr.q_1.n.sig@example.test>"
    text = parsed.get_content()
    assert "of 30 MB exceeds the limit of 25 MB of support@example.test" in text
    unknown_size = compose_too_large_notice(
        account=ACCOUNT,
        recipient="c@x.test",
        subject="",
        size=None,
        limit=1024 * 1024,
        message_id="<m@x>",
        instance="p",
    )
    unknown = message_from_bytes(unknown_size.data, policy=policy.default)
    assert "your mail '(no subject)' exceeds the limit of 1 MB" in unknown.get_content()
