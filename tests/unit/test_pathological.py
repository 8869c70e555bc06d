"""Pathological mail: everything the converter does to one mail's content finishes in bounded
time (issue 10, point 1).

Each mail goes through `analyse` (parse, classify, bounce report, returned Message-IDs, reply
text): the work the converter's worker does per mail. The runs below are the characters the
patterns over mail content touch (dashes, spaces, `>`, `=`, letters, digits, newlines, quote
markers, angle brackets, ...), after the line starts those patterns look for, in a bounce from
MAILER-DAEMON (the bounce path reads the most) and in a person's mail. Before the patterns were
made linear, a 2 KB bounce with a line of dashes took 22 s and 20,000 spaces 34 s.
"""

import time
from collections.abc import Callable

import pytest

from postroom_converter.analysis import Analysis, analyse
from postroom_shared.mail.msgid import MessageIdSigner

BOUND_S = 2.0  # per mail, on a loaded two-core machine; linear code needs well under 0.2 s
SIGNER = MessageIdSigner("p" * 40, "example.test")
OURS = SIGNER.make("it_1", "n1")

BOUNCE = (
    "From: MAILER-DAEMON@mx.example.org\r\nTo: support@example.test\r\n"
    "Subject: Undeliverable: Printer\r\nMessage-ID: <b1@mx.example.org>\r\n"
    f"In-Reply-To: {OURS}\r\nMIME-Version: 1.0\r\n"
)
PERSON = (
    "From: Casey <casey@example.org>\r\nTo: support@example.test\r\nSubject: Re: Printer\r\n"
    f"Message-ID: <p1@example.org>\r\nIn-Reply-To: {OURS}\r\nMIME-Version: 1.0\r\n"
)
RUNS = [
    "-", " ", "\t", ">", "> ", "=", "*", "|", "_", "#", "a", "1", "\n", "\n \n", ":", "(", ")",
    "<", "@", ".", "&", '"', "- ", "wrote ", "wrote (", ") :", "=?x?q?a?= ", "-- ", "a@b.c ",
]  # fmt: skip
# Line starts the patterns look for (bounce boilerplate, quote headers, signatures, ...).
LINE_STARTS = [
    "", "x ", "mail from", "from", "on a wrote", "On Monday, Casey wrote (", "--", "sent from my x",
    "sent via", "message from ", "##- ", "---- original message", "the following addresses had",
    "|", "{\"notificationType\":", "Message-ID: <", "re", "x-foo", "5.1.1 ", "550",
    "dda:SMTP=", "(expanded from ", "Final-Recipient: rfc822; ", "Content-Type: message/rfc822",
    "The original message was received at", "Received: ", "please contact ", "{\"Type\" : ",
]  # fmt: skip
ENDS = ["x", ":", ""]


def mail(head: str, body: str, content_type: str = "text/plain; charset=utf-8") -> bytes:
    return (head + f"Content-Type: {content_type}\r\n\r\n").encode() + body.encode("utf-8")


def timed(raw: bytes) -> tuple[float, Analysis]:
    started = time.perf_counter()
    result = analyse(raw, signer=SIGNER, every_bounce=True)
    return time.perf_counter() - started, result


def assert_quick(raw: bytes) -> Analysis:
    seconds, result = timed(raw)
    assert seconds < BOUND_S, f"{len(raw)} bytes took {seconds:.2f} s"
    return result


@pytest.mark.timeout(120)
@pytest.mark.parametrize("head", [BOUNCE, PERSON], ids=["bounce", "person"])
@pytest.mark.parametrize("run", RUNS)
def test_runs_after_every_line_start(head: str, run: str) -> None:
    # ~60 KB: under the 64 KB the bounce reader looks at, so every line is read
    repeat = max(1, 2_500 // len(run))
    for end in ENDS:
        body = "\n".join(start + run * repeat + end for start in LINE_STARTS)
        assert_quick(mail(head, body))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("head", [BOUNCE, PERSON], ids=["bounce", "person"])
@pytest.mark.parametrize("run", RUNS)
def test_100kb_of_one_run(head: str, run: str) -> None:
    repeat = 100_000 // len(run)
    for start in ("", "on a wrote", "--", "mail from", "from", "message from "):
        assert_quick(mail(head, start + run * repeat + "x\n"))


@pytest.mark.timeout(120)
def test_1mb_single_line() -> None:
    # (the body text is cut at 200,000 characters: the turn is well inside them)
    for char in ("-", " ", ">", "=", "a", "<", ":"):
        assert_quick(mail(BOUNCE, "on a wrote" + char * 100_000 + "x" + char * 900_000))


@pytest.mark.timeout(120)
def test_deep_quoting_and_many_quote_levels() -> None:
    levels = "> " * 20_000 + "deep\n"
    lines = "".join("> " * (i % 60) + f"line {i}\n" for i in range(20_000))
    headers = "".join(f"{'>' * i} On Monday, Casey wrote:\n" for i in range(5_000))
    for body in (levels, lines, headers, ">" * 200_000 + "\n", "> \n" * 50_000):
        result = assert_quick(mail(PERSON, "My answer.\n" + body))
        assert result.mail is not None
        assert result.mail.reply_text.startswith("My answer.")


@pytest.mark.timeout(120)
def test_issue_2kb_undeliverable_bounce_with_a_line_of_dashes() -> None:
    # the issue's case: 1.7 KB from MAILER-DAEMON, "Undeliverable", In-Reply-To one of ours
    body = "Delivery to the following recipient failed:\n\n  bob@example.org\n\n" + "-" * 1_800
    raw = mail(BOUNCE, body + "\n")
    assert 1_900 < len(raw) < 2_300
    result = assert_quick(raw)
    assert result.classification is not None
    assert result.classification.kind == "bounce"
    assert result.bounce is not None
    assert [r.address for r in result.bounce.recipients] == ["bob@example.org"]


@pytest.mark.timeout(120)
def test_issue_30kb_of_mta_boilerplate_candidates() -> None:
    for char in ("-", "=", "*", " "):
        assert_quick(mail(BOUNCE, char * 30_000 + "x\n"))


@pytest.mark.timeout(120)
def test_issue_100kb_bodies_for_the_reply_text() -> None:
    for start in ("on a wrote", "--", "from", "sent from my x", "On Monday, Casey wrote ("):
        for run in (" ", "\t", ") :", "wrote "):
            body = "Thanks!\n" + start + run * (100_000 // len(run)) + "x\n"
            result = assert_quick(mail(PERSON, body))
            assert result.mail is not None
            assert result.mail.reply_text.startswith("Thanks!")


@pytest.mark.timeout(120)
def test_issue_20k_spaces_in_a_bounce_line() -> None:
    body = "The following address failed:\n" + " " * 20_000 + "x\nbob@example.org 5.1.1\n"
    result = assert_quick(mail(BOUNCE, body))
    assert result.bounce is not None
    assert result.bounce.recipients[0].status == "5.1.1"


@pytest.mark.timeout(120)
def test_a_bounce_line_naming_thousands_of_recipients() -> None:
    # each address used to get its own copy of the 6 lines after it (the status window)
    line = " ".join(f"user{i}@example{i}.org" for i in range(2_600))
    result = assert_quick(mail(BOUNCE, line + "\n5.1.1\n"))
    assert result.bounce is not None
    assert len(result.bounce.recipients) == 2_600
    assert {r.status for r in result.bounce.recipients} == {"5.1.1"}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("run", ["<", "<b", "<<>", "< >", "<" + "x" * 2_100])
def test_html_bounce_tags_are_cut_in_linear_time(run: str) -> None:
    html = "<p>Delivery failed: bob@example.org 5.1.1</p>" + run * (200_000 // len(run))
    result = assert_quick(mail(BOUNCE, html, "text/html; charset=utf-8"))
    assert result.bounce is not None


def _header_mail(name: str, value: str) -> bytes:
    head = PERSON if name != "From" else PERSON.replace("From: Casey <casey@example.org>", "X: y")
    return mail(f"{name}: {value}\r\n" + head, "body\n")


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ["From", "To", "Subject", "References", "Return-Path"])
@pytest.mark.parametrize("run", [" ", "<", "<>", "&", "-", "re: ", "=?x?q?a?= ", "@", "a@b.c "])
def test_runs_in_headers(name: str, run: str) -> None:
    assert_quick(_header_mail(name, "re" + run * (100_000 // len(run)) + "x"))


@pytest.mark.timeout(120)
def test_delivery_status_and_returned_headers_with_runs() -> None:
    for run in (" ", "\n", "\n \n", ";", "<", "Final-Recipient: rfc822; "):
        filler = run * (50_000 // len(run))
        raw = (
            BOUNCE + 'Content-Type: multipart/report; report-type=delivery-status; boundary="b"'
            "\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"
            f"--b\r\nContent-Type: message/delivery-status\r\n\r\n{filler}\r\n"
            "Final-Recipient: rfc822; bob@example.org\r\nStatus: 5.1.1\r\n"
            f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{filler}\r\n"
            f"Message-ID: {OURS}\r\n--b--\r\n"
        ).encode()
        result = assert_quick(raw)
        # (blank lines make each field group a MIME part: over the part cap, refused quickly)
        kind = result.classification.kind if result.classification else result.rejected
        assert kind in ("bounce", "more than 4000 MIME parts")


@pytest.mark.timeout(120)
def test_deeply_nested_notification_json_is_no_crash() -> None:
    body = '{"notificationType": "Bounce", "bounce": ' + "[" * 200_000 + "\n"
    result = assert_quick(mail(BOUNCE, body))
    assert result.mail is not None


def _report(report_type: str, part_type: str, fields: str) -> bytes:
    return (
        BOUNCE + f'Content-Type: multipart/report; report-type={report_type}; boundary="b"'
        "\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"
        f"--b\r\nContent-Type: {part_type}\r\n\r\n{fields}\r\n--b--\r\n"
    ).encode()


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    "run",
    [
        "dda:SMTP=", "dda:SMTP=a", "dda:SMTP=a@", "(expanded from a@b.c) ", "a@b.c ", "a@b.c\n",
        "Final-Recipient: rfc822; a@b.c\n", "Original-Recipient: rfc822; a@b.c\nStatus: 5.0.0\n",
        '{"Type" : "Notification", "Message" : "', '\\"', "{", "Received: x\n\tfor <a@b.c>;\n",
    ],
)  # fmt: skip
def test_bounce_reading_with_runs(run: str) -> None:
    """The paths issue 14 added: X.400 addresses, alias notes, delivery-status fields in the
    text, SNS envelopes, the returned mail's senders, per-line status codes."""
    filler = run * (60_000 // len(run))
    assert_quick(mail(BOUNCE, "The following address failed:\n" + filler + "x\n"))
    assert_quick(mail(BOUNCE, "The following address failed:\n  kim\n" + COPY + filler))


COPY = "------ This is a copy of the message, including all the headers. ------\n"


@pytest.mark.timeout(120)
def test_one_field_group_naming_thousands_of_recipients() -> None:
    # no blank line between the groups (split per recipient), every status generic (each one
    # refined from the notice's line naming the recipient, read once for all of them)
    group = "".join(
        f"Final-Recipient: rfc822; u{i}@example.org\r\nStatus: 5.0.0\r\n" for i in range(3_000)
    )
    result = assert_quick(_report("delivery-status", "message/delivery-status", group))
    assert result.bounce is not None
    assert len(result.bounce.recipients) == 3_000


@pytest.mark.timeout(120)
@pytest.mark.parametrize("run", [" ", "x", ";", "/", "automatic-action/"])
def test_sieve_reject_disposition_with_runs(run: str) -> None:
    value = "automatic-action/" + run * (100_000 // len(run)) + "; deleted"
    fields = f"Final-Recipient: rfc822; bob@example.org\r\nDisposition: {value}\r\n"
    assert_quick(_report("disposition-notification", "message/disposition-notification", fields))


def _growth(build: Callable[[int], bytes]) -> float:
    small, large = timed(build(25_000))[0], timed(build(100_000))[0]
    return large / max(small, 1e-3)


@pytest.mark.timeout(120)
def test_work_grows_linearly_with_a_run_of_dashes() -> None:
    # quadratic would be x16 for 4x the input; allow noise, not a square
    growth = _growth(lambda n: mail(BOUNCE, "-" * n + "x\n"))
    assert growth < 10, f"4x the dashes took {growth:.1f}x the time"
