"""Bounce classes Postroom used to miss or misread (issue 14), one written mail each
(tests/fixtures/bounces/README.md): classified as a bounce, with the address the customer wrote
to, and hard or not as the report says. Plus the recipient rule of `dsn_address` alone, and no
false positive anywhere in the third-party corpora (tests/fixtures/mail)."""

import json
from pathlib import Path

import pytest

from postroom_converter.domain.bounce import parse_bounce
from postroom_converter.domain.bounce_address import dsn_address
from postroom_converter.domain.classify import classify
from postroom_converter.domain.parse import parse_mail
from postroom_shared.contracts import ClassificationV1

FIXTURES = Path(__file__).parent.parent / "fixtures"
BOUNCES = FIXTURES / "bounces"
MAIL = FIXTURES / "mail"


def _classified(raw: bytes) -> ClassificationV1:
    return classify(parse_mail(raw), is_our_message_id=lambda _: False, loop_header="x-loop-x")


# file, the recipients (address, status) the bounce names, permanent (False: a delay)
CASES = [
    # Sendmail's notice starts "The original message was received at": not the returned mail.
    ("sendmail-received-at.eml", [("kim@example.org", "5.1.1")], True),
    # Forwarded: Final-Recipient is the forwarding target, Original-Recipient the customer.
    ("dsn-forwarded.eml", [("kim@example.org", "5.2.2")], True),
    # X.400 Final-Recipient: its dda:SMTP= address, or the rfc822 Original-Recipient.
    ("dsn-x400.eml", [("lee@example.org", "5.1.1"), ("robin@example.org", "5.1.1")], True),
    # Exchange's text report names the recipient only as dda:SMTP=addr.
    ("exchange-dda.eml", [("lee@example.org", "")], True),
    # postmaster@ with generic wording and no null return path.
    ("daemon-weak-wording.eml", [("kim@example.org", "5.1.1")], True),
    # A gateway that is no daemon: bounce subject, status code, the returned mail attached.
    ("gateway-subject.eml", [("kim@corp.example.net", "5.1.1")], True),
    # Delay warnings: bounces that are not hard (no bounce mark; docs/features.md F11).
    ("delay-exchange.eml", [("kim@example.org", "")], False),
    ("delay-exim.eml", [("kim@example.org", "4.2.0")], False),
    ("mdaemon-user-unknown.eml", [("kim@example.org", "")], True),
    # Sieve reject (RFC 5429): an automatic MDN "deleted"; the text's other address is not it.
    ("sieve-reject.eml", [("kim@example.org", "")], True),
    ("chinese-gateway.eml", [("li.wei@example.cn", "")], True),
]


@pytest.mark.parametrize(("name", "recipients", "permanent"), CASES, ids=[c[0] for c in CASES])
def test_bounce_class(name: str, recipients: list[tuple[str, str]], permanent: bool) -> None:
    raw = (BOUNCES / name).read_bytes()
    result = _classified(raw)
    assert result.kind == "bounce", result.reasons
    bounce = parse_bounce(parse_mail(raw).tree)
    assert bounce is not None
    assert [(r.address, r.status) for r in bounce.recipients] == recipients
    assert bounce.permanent is permanent


@pytest.mark.parametrize(
    ("final", "original", "address"),
    [
        ("rfc822; kim@example.org", "", "kim@example.org"),
        ("rfc822; kim.box@mailhost.example.org", "rfc822;kim@example.org", "kim@example.org"),
        ("x400; c=US;a= ;p=Corp;o=Exchange;dda:SMTP=Lee@Example.org;", "", "lee@example.org"),
        ("x400; /c=US/p=Corp/s=Lind/", "rfc822; <robin@example.org>", "robin@example.org"),
        ("rfc822; @relay.example.net:kim@server", "rfc822;kim@example.net", "kim@example.net"),
        ('rfc822; "kim..x"@example.org', "", "kim..x@example.org"),
        ("", "<kim@example.org>", "kim@example.org"),  # untyped, no Final-Recipient (McAfee)
        ("x400; /c=US/p=Corp/s=Lind/", "", "/c=us/p=corp/s=lind/"),  # kept as written
        ("xxxxxxx xxxxxxxxxxxx", "", ""),  # prose (an anonymised report), not an address
        ("", "", ""),
    ],
)
def test_dsn_address_rule(final: str, original: str, address: str) -> None:
    assert dsn_address(final, original) == address


HEAD = (
    "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\nTo: support@example.test\n"
    "Subject: Mail delivery failed: returning message to sender\n"
)
COPY = "------ This is a copy of the message, including all the headers. ------\n"
RETURNED = "From: support@example.test\nTo: kim@example.org\nSubject: Re: Printer\n\nFixed.\n"
DSN = (
    "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; "
    'boundary="D"\n\n--D\nContent-Type: text/plain\n\nFailed.\n\n--D\n'
    "Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n"
    "Final-Recipient: rfc822; kim@example.org\nAction: failed\nStatus: 5.0.0\n"
    "Diagnostic-Code: smtp; 550 5.7.1 <kim@example.org>: relaying denied\n\n--D--\n"
)
TEXT_CASES = {
    # Exim names the address it expanded to, then the one the customer wrote to.
    "alias": "  kim.box@mailhost.example.org\n    (ultimately generated from kim@example.org)\n"
    "    550 5.1.1 mailbox unknown\n",
    # Postfix's "please contact <postmaster@...>" is whom to ask, not who failed.
    "contact": "<kim@example.org>: host mx said: 550 5.1.1 unknown\n\n"
    "For further assistance, please contact <postmaster@mx.example.org>\n",
    # The returned headers start at a Received line even without an announcing line.
    "received": "The following address failed:\n  kim@example.org\n    550 5.1.1 unknown\n\n"
    "Received: from a.example.test by mx.example.org\n\tfor <lee@example.org>; Fri\n",
    # One recipient line, its code written before it.
    "code before": "Could not be delivered because of\n550 5.1.1 User unknown\n"
    "The following recipients were affected:\n    kim@example.org\n",
    # The code many lines below the address (blank lines and prose between).
    "code below": "Delivery to the following recipient failed permanently:\n\n  kim@example.org\n"
    + "\nTechnical details of permanent failure:\n\nGoogle tried to deliver your message.\n" * 2
    + "550 5.1.1 <kim@example.org>... User Unknown\n",
    # No address in the report ("kim" is a local name): the returned mail's sole recipient.
    "returned To": "The following address(es) failed:\n  kim\n    mailbox unknown\n\n"
    + COPY
    + RETURNED,
}


@pytest.mark.parametrize("case", TEXT_CASES)
def test_text_bounce_recipient(case: str) -> None:
    bounce = parse_bounce(parse_mail((HEAD + "\n" + TEXT_CASES[case]).encode()).tree)
    assert bounce is not None
    status = "" if case == "returned To" else "5.1.1"
    assert [(r.address, r.status) for r in bounce.recipients] == [("kim@example.org", status)]


def test_generic_status_yields_to_the_diagnostic_code() -> None:
    bounce = parse_bounce(parse_mail((HEAD + DSN).encode()).tree)
    assert bounce is not None
    assert [(r.address, r.status) for r in bounce.recipients] == [("kim@example.org", "5.7.1")]


# The bounces among the third-party corpora outside sisimai (reviewed one by one); every other
# mail there must not be classified a bounce.
CORPUS_BOUNCES = {
    "cpython-test_email/msg_05.txt",  # declares report-type=delivery-status (a parser test)
    "cpython-test_email/msg_16.txt",
    "cpython-test_email/msg_25.txt",
    "cpython-test_email/msg_43.txt",
    "flanker/bounce/broken-mime.eml",
    "flanker/bounce/delayed-broken.eml",
    "flanker/bounce/delayed.eml",
    "flanker/bounce/gmail-invalid-address.eml",
    "flanker/bounce/gmail-no-dns.eml",
    "flanker/bounce/mailbox-full.eml",
    "flanker/bounce/no-mx.eml",
    "flanker/bounce/office365.eml",
    "flanker/bounce/zed.eml",
    "flanker/complaints/aol.eml",  # ARF reports are kind bounce (classify.py)
    "flanker/complaints/yahoo.eml",
    "james-mime4j/mimetools-testmsgs/badbound.msg",
    "mimekit/messages/bounce.txt",
    "mimekit/messages/delivery-status-multiple-blank-lines.txt",
    "mimekit/messages/delivery-status-no-blank-line.txt",
    "mimekit/messages/delivery-status.txt",
    "mimekit/messages/delivery-status.anonymized.eml",  # report-type garbled, DSN part present
    "mimekit/messages/delivery-status2.txt",
    "mimekit/messages/feedback-report.txt",
    "spamscope-mail-parser/mail_malformed_2",
}
_SKIP_SUFFIXES = {".xml", ".list", ".tnef", ".md", ".json", ".py", ".out"}


def _corpus() -> list[Path]:
    return sorted(
        p
        for p in MAIL.rglob("*")
        if p.is_file()
        and p.parent.name != "sisimai"
        and p.suffix not in _SKIP_SUFFIXES
        and "LICENSE" not in p.name
        and p.name != "README.txt"
    )


def _key(path: Path) -> str:
    rel = path.relative_to(MAIL).parts
    return "/".join(part for part in rel if part not in ("data", "tests_mails"))


def test_corpus_bounces_are_listed_files() -> None:
    keys = {_key(p) for p in _corpus()}
    assert keys >= CORPUS_BOUNCES, CORPUS_BOUNCES - keys


@pytest.mark.parametrize("path", _corpus(), ids=_key)
def test_corpus_bounce_or_not(path: Path) -> None:
    result = _classified(path.read_bytes())
    assert (result.kind == "bounce") == (_key(path) in CORPUS_BOUNCES), result.reasons


@pytest.mark.parametrize("name", ["is-not-bounce-01.eml", "is-not-bounce-02.eml"])
def test_sisimai_not_bounces(name: str) -> None:
    assert _classified((MAIL / "sisimai" / name).read_bytes()).kind != "bounce"


def _report(parts: str) -> bytes:
    return (
        HEAD + "MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; "
        'boundary="R"\n\n--R\nContent-Type: text/plain\n\nFailed.\n\n' + parts + "--R--\n"
    ).encode()


GROUPS_WITHOUT_BLANK_LINE = (
    "--R\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n"
    "Final-Recipient: rfc822; kim@example.org\nAction: failed\nStatus: 5.2.2\n"
    "Final-Recipient: rfc822; lee@example.org\nAction: failed\nStatus: 5.1.1\n\n"
)
RETURNED_BOUNCE = (
    "--R\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n"
    "Final-Recipient: rfc822; kim@example.org\nAction: failed\nStatus: 5.1.1\n\n"
    "--R\nContent-Type: message/rfc822\n\nFrom: MAILER-DAEMON@other.example\nContent-Type: "
    'multipart/report; report-type=delivery-status; boundary="I"\n\n--I\nContent-Type: '
    "message/delivery-status\n\nReporting-MTA: dns; other.example\n\n"
    "Final-Recipient: rfc822; someone@other.example\nAction: failed\nStatus: 5.0.0\n\n--I--\n\n"
)


@pytest.mark.parametrize(
    ("parts", "recipients"),
    [
        # Two recipients' fields with no blank line between them: two recipients.
        (GROUPS_WITHOUT_BLANK_LINE, [("kim@example.org", "5.2.2"), ("lee@example.org", "5.1.1")]),
        # The returned mail was itself a bounce: its DSN is about someone else.
        (RETURNED_BOUNCE, [("kim@example.org", "5.1.1")]),
    ],
    ids=["groups without blank line", "returned bounce"],
)
def test_dsn_structure(parts: str, recipients: list[tuple[str, str]]) -> None:
    bounce = parse_bounce(parse_mail(_report(parts)).tree)
    assert bounce is not None
    assert [(r.address, r.status) for r in bounce.recipients] == recipients


SES = (
    '{"notificationType":"Bounce","bounce":{"bouncedRecipients":[{"emailAddress":"Kim@example.org",'
    '"status":"5.1.1"}]},"mail":{"source":"team@mail.example.test","destination":["kim@example.org"'
    '],"commonHeaders":{"from":["team@mail.example.test"]}}}'
)  # (read as text, the sender's address would count as a recipient too)
SES_CASES = {
    "plain": SES,
    # SNS delivers the SES document as a JSON string inside its own envelope.
    "sns": '{\n  "Type" : "Notification",\n  "Message" : ' + json.dumps(SES) + "\n}",
    # A mail system wrapped a long line inside a JSON string.
    "wrapped": SES.replace('"from":["team', '"from":["te\n am'),
    # A complaint names who complained.
    "complaint": SES.replace(
        '"Bounce","bounce":{"bouncedRecipients"', '"Complaint","complaint":{"complainedRecipients"'
    ),
}


@pytest.mark.parametrize("case", SES_CASES)
def test_ses_notifications(case: str) -> None:
    head = "From: SES <no-reply@sns.amazonaws.com>\nTo: support@example.test\n"
    raw = (head + "Subject: AWS Notification Message\n\n" + SES_CASES[case] + "\n").encode()
    assert _classified(raw).kind == "bounce"
    bounce = parse_bounce(parse_mail(raw).tree)
    assert bounce is not None
    assert [r.address for r in bounce.recipients] == ["kim@example.org"]


def test_the_returned_mails_sender_is_no_recipient() -> None:
    body = (
        "A message sent by\n  <team@mail.example.test>\ncould not be delivered. The following\n"
        "address(es) failed:\n  kim@example.org\n    550 5.1.1 unknown user\n\n"
        + COPY
        + RETURNED.replace("From: support@example.test", "From: <team@mail.example.test>")
    )
    bounce = parse_bounce(parse_mail((HEAD + "\n" + body).encode()).tree)
    assert bounce is not None
    assert [r.address for r in bounce.recipients] == ["kim@example.org"]


@pytest.mark.parametrize(
    "wording", ["retry timeout exceeded", "all hosts have been failing for a long time"]
)
def test_giving_up_on_an_unreachable_host_is_not_hard(wording: str) -> None:
    body = f"The following address(es) failed:\n  kim@example.org\n    {wording}\n"
    bounce = parse_bounce(parse_mail((HEAD + "\n" + body).encode()).tree)
    assert bounce is not None
    assert not bounce.permanent
