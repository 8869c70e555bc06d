"""parse_mail on third-party corpora (tests/fixtures/mail/*/, licences in its README.md).

Every mail parses, fast; and where a corpus states what a mail contains (in its own tests or
as expectation files) we assert the same. Each assertion cites where the expectation comes from.
"""

import time
import xml.etree.ElementTree as ET
from email.message import EmailMessage, Message
from pathlib import Path

import pytest

from postroom_converter.domain.attachments import content_type_of, filename_of
from postroom_converter.domain.parse import ParsedMail, parse_mail

MAIL = Path(__file__).parent.parent / "fixtures" / "mail"
CORPORA = (
    "cpython-test_email",
    "django-helpdesk",
    "flanker",
    "james-mime4j",
    "mimekit",
    "spamscope-mail-parser",
    "sisimai",
    "talon",
    "email_reply_parser-github",
    "email_reply_parser-zapier",
)
_NOT_MAIL = {".md", ".xml", ".list", ".tnef", ".json"}
_NOT_MAIL_NAMES = {"ARTISTIC-LICENSE.txt", "README.txt"}
PER_MAIL_SECONDS = 2.0


def _mail_files() -> list[Path]:
    found = []
    for corpus in CORPORA:
        for path in sorted((MAIL / corpus).rglob("*")):
            if path.is_file() and path.suffix not in _NOT_MAIL and path.name not in _NOT_MAIL_NAMES:
                found.append(path)
    return found


MAIL_FILES = _mail_files()


def _parse(relative: str) -> ParsedMail:
    return parse_mail((MAIL / relative).read_bytes())


def _tree(mail: ParsedMail) -> EmailMessage:
    assert mail.tree is not None
    return mail.tree


def _structure(part: Message, depth: int = 0) -> list[str]:
    """Content types, indented with '-' per level (flanker's `tree_to_string` format)."""
    lines = ["-" * depth + part.get_content_type()]
    payload = part.get_payload()
    if isinstance(payload, list):
        for sub in payload:
            if isinstance(sub, Message):
                lines += _structure(sub, depth + 1)
    return lines


def _children(part: Message) -> list[Message]:
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


# --- every mail -------------------------------------------------------------------------


def test_corpus_is_there() -> None:
    assert len(MAIL_FILES) > 230  # 48 cpython + 6 django + 47 flanker + 80 mime4j + 36 + 20


@pytest.mark.timeout(30)
@pytest.mark.parametrize("path", MAIL_FILES, ids=lambda p: str(p.relative_to(MAIL)))
def test_every_corpus_mail_parses_in_time(path: Path) -> None:
    raw = path.read_bytes()
    started = time.perf_counter()
    mail = parse_mail(raw)
    elapsed = time.perf_counter() - started
    assert elapsed < PER_MAIL_SECONDS, f"{elapsed:.2f} s"
    assert mail.tree is not None
    assert all(isinstance(d, str) for d in mail.defects)
    assert "\x00" not in mail.subject and "\x00" not in mail.text
    for attachment in mail.attachments:
        assert attachment.size == len(attachment.data)
        assert len(attachment.sha256) == 64
        assert "/" not in attachment.filename and "\\" not in attachment.filename
        assert not attachment.content_id.startswith("<")


@pytest.mark.timeout(60)
def test_whole_corpus_parses_in_reasonable_time() -> None:
    started = time.perf_counter()
    for path in MAIL_FILES:
        parse_mail(path.read_bytes())
    assert time.perf_counter() - started < 15.0


# --- CPython Lib/test/test_email/test_email.py (v3.13.0) --------------------------------


def test_cpython_get_filename() -> None:
    # test_get_filename / test_get_filename_with_name_parameter: ['msg.txt', 'msg.txt']
    for name in ("msg_04.txt", "msg_44.txt"):
        parts = _children(_tree(_parse(f"cpython-test_email/{name}")))
        assert [filename_of(p) for p in parts] == ["msg.txt", "msg.txt"]
    # test_get_filename: msg_07 part 1 is dingusfish.gif
    mail = _parse("cpython-test_email/msg_07.txt")
    assert [(a.filename, a.content_type) for a in mail.attachments] == [
        ("dingusfish.gif", "image/gif")
    ]
    assert mail.subject == "Here is your dingus fish"


def test_cpython_funky_continuation_lines() -> None:
    # test_get_param_funky_continuation_lines: name 'wibble.JPG'
    mail = _parse("cpython-test_email/msg_22.txt")
    assert "wibble.JPG" in [a.filename for a in mail.attachments]


def test_cpython_message_external_body() -> None:
    # test_message_external_body
    tree = _tree(_parse("cpython-test_email/msg_36.txt"))
    assert len(_children(tree)) == 2
    alternative = _children(tree)[1]
    assert alternative.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in _children(alternative)] == ["message/external-body"] * 2


def test_cpython_double_boundary() -> None:
    # test_double_boundary: three payloads
    assert len(_children(_tree(_parse("cpython-test_email/msg_37.txt")))) == 3


def test_cpython_inner_part_contains_outer_boundary() -> None:
    # test_nested_inner_contains_outer_boundary
    assert _structure(_tree(_parse("cpython-test_email/msg_38.txt"))) == [
        "multipart/mixed",
        "-multipart/mixed",
        "--multipart/alternative",
        "---text/plain",
        "--text/plain",
        "-text/plain",
        "-text/plain",
    ]


def test_cpython_nested_with_same_boundary() -> None:
    # test_nested_with_same_boundary
    assert _structure(_tree(_parse("cpython-test_email/msg_39.txt"))) == [
        "multipart/mixed",
        "-multipart/mixed",
        "--multipart/alternative",
        "--application/octet-stream",
        "--application/octet-stream",
        "-text/plain",
    ]


def test_cpython_delivery_status_structure() -> None:
    # test_pushCR_LF (msg_43): multipart/report, text/plain, message/delivery-status with
    # per-recipient groups; the bounce parser reads those groups from `tree`.
    mail = _parse("cpython-test_email/msg_43.txt")
    structure = _structure(_tree(mail))
    assert structure[:3] == ["multipart/report", "-text/plain", "-message/delivery-status"]
    assert mail.content_type == "multipart/report"
    assert mail.report_type == "delivery-status"


def test_cpython_missing_minor_type() -> None:
    # test_parse_missing_minor_type
    assert _parse("cpython-test_email/msg_14.txt").content_type == "text/plain"


def test_cpython_defects_are_reported() -> None:
    # test_same_boundary_inner_outer, test_multipart_no_boundary, test_lying_multipart,
    # test_missing_start_boundary
    assert "StartBoundaryNotFoundDefect" in _parse("cpython-test_email/msg_15.txt").defects
    for name in ("msg_25.txt", "msg_41.txt"):
        defects = _parse(f"cpython-test_email/{name}").defects
        assert "NoBoundaryInMultipartDefect" in defects
        assert "MultipartInvariantViolationDefect" in defects
    assert "StartBoundaryNotFoundDefect" in _parse("cpython-test_email/msg_42.txt").defects


def test_cpython_multipart_without_boundary_is_text() -> None:
    # test_multipart_no_boundary: the payload is a string, so the body is readable text
    mail = _parse("cpython-test_email/msg_25.txt")
    assert isinstance(_tree(mail).get_payload(), str)
    assert mail.text


def test_cpython_all_cc_headers() -> None:
    # test_get_all: ['ccc@zzz.org', 'ddd@zzz.org', 'eee@zzz.org']
    mail = _parse("cpython-test_email/msg_20.txt")
    assert [a.address for a in mail.cc] == ["ccc@zzz.org", "ddd@zzz.org", "eee@zzz.org"]


def test_cpython_disposition_filename_wins() -> None:
    # msg_26 (test_BytesGenerator_linend*): name="clock.bmp,69c" but filename="clock.bmp"
    mail = _parse("cpython-test_email/msg_26.txt")
    assert mail.subject == "IMAP file test"
    assert [(a.filename, a.content_type) for a in mail.attachments] == [
        ("clock.bmp", "application/riscos")
    ]


def test_cpython_no_separating_blank_line() -> None:
    # test_no_separating_blank_line
    mail = _parse("cpython-test_email/msg_35.txt")
    assert mail.subject == "here's something interesting"
    assert mail.text == "counter to RFC 2822, there's no separating newline here"


def test_cpython_rfc2231_charset() -> None:
    # test_rfc2231_get_content_charset: charset us-ascii given in RFC 2231 form
    mail = _parse("cpython-test_email/msg_32.txt")
    assert mail.subject == "Re: Limiting Perl CPU Utilization..."
    assert mail.text


def test_cpython_get_charsets_empty_body_parts() -> None:
    # test_get_charsets: msg_08 has four (empty) text parts in four charsets: body, not files
    mail = _parse("cpython-test_email/msg_08.txt")
    assert mail.subject == "Lyrics"
    assert len(_children(_tree(mail))) == 4
    assert mail.attachments == ()


# --- django-helpdesk helpdesk/tests/test_get_email.py (commit 360bace4) ----------------


@pytest.mark.parametrize(
    ("name", "subject", "text"),
    [
        # test_email_with_quoted_printable_body
        (
            "quoted_printable.eml",
            "Český test",
            "Tohle je test českých písmen odeslaných z gmailu.",
        ),
        # test_email_with_8bit_encoding_and_utf_8
        ("all-special-chars.eml", "Testovácí email", "íářčšáíéřášč"),
    ],
)
def test_helpdesk_exact_bodies(name: str, subject: str, text: str) -> None:
    mail = _parse(f"django-helpdesk/{name}")
    assert mail.subject == subject
    assert mail.text == text


def test_helpdesk_nondecodable_utf8() -> None:
    # test_email_with_utf_8_non_decodable_sequences
    mail = _parse("django-helpdesk/utf-nondecodable.eml")
    assert mail.subject == "Fwd: Cyklozaměstnavatel - změna vyhodnocení"
    assert "Cyklozaměstnavatel - změna vyhodnocení" in mail.text
    assert mail.html is not None and "prosazuje lepší" in mail.html  # (only the HTML has it)


def test_helpdesk_forwarded_message() -> None:
    # test_email_with_forwarded_message
    mail = _parse("django-helpdesk/forwarded-message.eml")
    assert mail.subject == "Test with original message from GitHub"
    assert "This is email body" in mail.text


def test_helpdesk_blank_body_with_attachment() -> None:
    # test_email_with_blank_body_and_attachment: title kept whole here (their model cuts it),
    # description empty, one attachment
    mail = _parse("django-helpdesk/blank-body-with-attachment.eml")
    assert mail.subject.startswith("Attachment without body - and a looooooo")
    assert mail.text == ""
    assert len(mail.attachments) == 1


# --- flanker tests/mime/message/scanner_test.py (commit c7f70738) ----------------------

FLANKER_TORTURE_PARTS = """multipart/mixed
-text/plain
-message/rfc822
--multipart/alternative
---text/plain
---multipart/mixed
----text/richtext
---application/andrew-inset
-message/rfc822
--audio/basic
-audio/basic
-image/pbm
-message/rfc822
--multipart/mixed
---multipart/mixed
----text/plain
----audio/x-sun
---multipart/mixed
----image/gif
----image/gif
----application/x-be2
----application/atomicmail
---audio/x-sun
-message/rfc822
--multipart/mixed
---text/plain
---image/pgm
---text/plain
-message/rfc822
--multipart/mixed
---text/plain
---image/pbm
-message/rfc822
--application/postscript
-image/gif
-message/rfc822
--multipart/mixed
---audio/basic
---audio/basic
-message/rfc822
--multipart/mixed
---application/postscript
---application/octet-stream
---message/rfc822
----multipart/mixed
-----text/plain
-----multipart/parallel
------image/gif
------audio/basic
-----application/atomicmail
-----message/rfc822
------audio/x-sun"""


def test_flanker_torture_tree() -> None:
    # torture_message_test: Mark Crispin's MIME torture test, the exact part tree. One
    # difference: `Content-Type: BINARY;name="Alices_PDP-10"` is text/plain to CPython
    # (RFC 2045 §5.2 default for invalid types), application/octet-stream to flanker; we make
    # it an application/octet-stream attachment, so it never lands in the body text.
    mail = _parse("flanker/torture.eml")
    expected = FLANKER_TORTURE_PARTS.splitlines()
    assert expected[42] == "---application/octet-stream"
    expected[42] = "---text/plain"
    assert _structure(_tree(mail)) == expected
    pdp10 = list(_tree(mail).walk())[42]
    assert (filename_of(pdp10), content_type_of(pdp10)) == (
        "Alices_PDP-10",
        "application/octet-stream",
    )
    assert mail.subject == "Multi-media mail demonstration"


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("complaints/aol.eml", 3),  # fbl_test
        ("bounce/delayed.eml", 3),  # ndn_test
        ("bounce/zed.eml", 3),  # ndn_2_test
        ("bounce/mailbox-full.eml", 3),  # mailbox_full_test
        ("bounce/no-mx.eml", 3),  # notification_about_multipart_test
        ("disposition-notification.eml", 3),  # disposition_notification_test
        ("complaints/yahoo.eml", 3),  # yahoo_fbl_test
        ("spam/broken-ctype.eml", 2),  # broken_content_type_test
        ("dashed-boundaries.eml", 2),  # dashed_boundaries_test
    ],
)
def test_flanker_part_counts(name: str, parts: int) -> None:
    assert len(_children(_tree(_parse(f"flanker/{name}")))) == parts


def test_flanker_delivery_notification() -> None:
    # ndn_test: subject, text/plain first, delivery-status second, enclosed message's subject
    mail = _parse("flanker/bounce/delayed.eml")
    assert mail.subject == "Returned mail: Cannot send message for 5 days"
    parts = _children(_tree(mail))
    assert parts[0].get_content_type() == "text/plain"
    assert parts[1].get_content_type() == "message/delivery-status"
    assert [a.filename for a in mail.attachments] == ["Hello, how are you.eml"]


def test_flanker_mailbox_full_headers_container() -> None:
    # mailbox_full_test: third part is a headers container (text/rfc822-headers)
    parts = _children(_tree(_parse("flanker/bounce/mailbox-full.eml")))
    assert parts[2].get_content_type() == "text/rfc822-headers"


def test_flanker_enclosed_subparts() -> None:
    # notification_about_multipart_test: flanker reads the headers container's
    # Content-Type; here it stays text/rfc822-headers (the bounce parser reads it as text)
    no_mx = _children(_tree(_parse("flanker/bounce/no-mx.eml")))[2]
    assert no_mx.get_content_type() == "text/rfc822-headers"
    assert "multipart/alternative" in str(no_mx.get_payload())
    # yahoo_fbl_test: the enclosed message is text/html
    yahoo = _children(_tree(_parse("flanker/complaints/yahoo.eml")))[2]
    assert _children(yahoo)[0].get_content_type() == "text/html"


def test_flanker_dashed_boundaries() -> None:
    # dashed_boundaries_test
    mail = _parse("flanker/dashed-boundaries.eml")
    assert mail.content_type == "multipart/alternative"
    assert [p.get_content_type() for p in _children(_tree(mail))] == ["text/plain", "text/html"]
    assert mail.text and mail.html is not None


def test_flanker_enclosed_message() -> None:
    # enclosed_message_test: decoded To header and the rfc822 part named thanks.eml
    mail = _parse("flanker/enclosed.eml")
    assert [(a.address, a.name) for a in mail.to] == [("bob@example.com", "Александр Клижентас☯")]
    assert [(a.filename, a.content_type) for a in mail.attachments] == [
        ("thanks.eml", "message/rfc822")
    ]
    # missing_final_boundaries_enclosed_test
    broken = _parse("flanker/enclosed-broken.eml")
    assert [a.filename for a in broken.attachments] == ["thanks.eml"]


def test_flanker_messy_and_missing_boundaries() -> None:
    # messy_content_types_test: no parts; missing_final_boundary_test: first part has a body
    assert not _children(_tree(_parse("flanker/missing-boundaries.eml")))
    mail = _parse("flanker/missing-final-boundary.eml")
    assert _children(_tree(mail))[0].get_payload()
    assert mail.text


def test_flanker_weird_bounces_are_plain_text() -> None:
    # weird_bounce_test: 0 parts, text/plain
    for name in ("gmail-no-dns.eml", "gmail-invalid-address.eml", "broken-mime.eml"):
        mail = _parse(f"flanker/bounce/{name}")
        assert mail.content_type == "text/plain"
        assert not _children(_tree(mail))
        assert mail.text


def test_flanker_no_ctype() -> None:
    # no_ctype_headers_and_and_boundaries_test: text/plain, headers as listed there
    mail = _parse("flanker/no-ctype.eml")
    assert mail.content_type == "text/plain"
    assert mail.subject == "Testing message parsing"
    assert mail.sender is not None and mail.sender.address == "bob@marley.com"
    assert mail.message_id == (
        "<CAEAsyCbSF1Bk7CBuu6zp3Qs8=j2iUkNi3dPkGe6z40q4dmaogQ@mail.gmail.com>"
    )
    assert mail.date is not None and mail.date.isoformat() == "2011-12-29T10:06:53+00:00"


def test_flanker_enclosed_endless_is_survived() -> None:
    # bad_messages_test: flanker raises DecodingError; we keep what is there, with a defect
    mail = _parse("flanker/enclosed-endless.eml")
    assert mail.subject == "Wow"
    assert mail.defects


# --- james-mime4j expected parse trees (*.xml, commit 2602a9a9) ------------------------


def _mime4j_expected(xml_path: Path) -> list[str]:
    """Content types of the entities in a mime4j expectation tree, in document order."""
    out: list[str] = []

    def walk(element: ET.Element, in_digest: bool) -> None:
        ctype = ""
        header = element.find("header")
        for entry in header.findall("field") if header is not None else []:
            text = (entry.text or "").strip()
            if text.lower().startswith("content-type:"):
                ctype = text.split(":", 1)[1].split(";", 1)[0].strip().lower()
                break
        if ctype.count("/") != 1:
            ctype = "message/rfc822" if in_digest else "text/plain"
        out.append(ctype)
        multipart = element.find("multipart")
        for part in multipart.findall("body-part") if multipart is not None else []:
            walk(part, ctype == "multipart/digest")
        message = element.find("message")
        if message is not None:
            walk(message, False)

    walk(ET.parse(xml_path).getroot(), False)  # noqa: S314 - our own copied fixture files
    return out


# Where CPython's parser and mime4j legitimately differ (not bugs of ours):
MIME4J_DIVERGENT = {
    # mime4j transfer-decodes base64 message/rfc822 bodies and parses them; CPython keeps
    # them as text (we still hand out the decoded .eml as the attachment).
    "mimetools-testmsgs/multi-2gifs-base64",
    "testmsgs/bad-newlines-multiple-parts-base64",
    "testmsgs/base64encoded-rfc822message-nested",
    # Boundary recognition differences on deliberately broken input.
    "mimetools-testmsgs/double-bound",
    "testmsgs/ending-boundaries",
    "testmsgs/very-long-boundary",
    "testmsgs/very-very-long-boundary",
    "testmsgs/weird-boundary",
    # Expectation file is not well-formed XML.
    "mimetools-testmsgs/2002_06_12_doublebound",
    "mimetools-testmsgs/twopart",
}
MIME4J_CASES = sorted(
    str(p.relative_to(MAIL / "james-mime4j").with_suffix(""))
    for p in (MAIL / "james-mime4j").rglob("*.xml")
    if not p.name.endswith("_decoded.xml")
)


@pytest.mark.parametrize("case", [c for c in MIME4J_CASES if c not in MIME4J_DIVERGENT])
def test_mime4j_structure(case: str) -> None:
    base = MAIL / "james-mime4j" / case
    expected = _mime4j_expected(base.with_suffix(".xml"))
    mail = parse_mail(base.with_suffix(".msg").read_bytes())
    assert [p.get_content_type() for p in _tree(mail).walk()] == expected


def test_mime4j_agreement_is_broad() -> None:
    assert len([c for c in MIME4J_CASES if c not in MIME4J_DIVERGENT]) >= 68


@pytest.mark.parametrize("encoding", ["Latin1", "UTF8"])
def test_mime4j_rfc2231_filenames(encoding: str) -> None:
    # attachment-filename-encoding-*.xml: filename*=ISO-8859-1''…%E4%F6%FC / UTF-8''…
    mail = _parse(f"james-mime4j/mimetools-testmsgs/attachment-filename-encoding-{encoding}.msg")
    assert [a.filename for a in mail.attachments] == ["attachment.äöü"]


def test_mime4j_rfc2047_filename_koi8r() -> None:
    # russian.msg: filename==?koi8-r?B?89DJ08/LLmRvYw==?= (RFC 2047 inside a parameter)
    mail = _parse("james-mime4j/mimetools-testmsgs/russian.msg")
    assert [a.filename for a in mail.attachments] == ["Список.doc"]


def test_mime4j_base64_encoded_rfc822_is_decoded_for_the_attachment() -> None:
    # base64encoded-rfc822message_decoded_1_1.txt: the decoded inner message
    mail = _parse("james-mime4j/testmsgs/base64encoded-rfc822message.msg")
    (attachment,) = mail.attachments
    assert attachment.content_type == "message/rfc822"
    assert attachment.data.startswith(b"Content-Type: text/plain")


# --- MimeKit UnitTests/TestData (commit cf6d38dd) ---------------------------------------

TNEF = MAIL / "mimekit" / "tnef"
# *.list = names MimeKit extracts. MimeKit adds the TNEF body as body.rtf/body.html; the
# TNEF body is not unpacked here (the mail's own text part is the body), so those are left
# out of the comparison. Divergent cases (tnefparse vs MimeKit), not compared:
# christmas (MimeKit also lists 2 embedded-message attachments), long-filename and
# missing-filenames (MimeKit lists only the body, tnefparse finds the files).
TNEF_DIVERGENT = {"christmas", "long-filename", "missing-filenames"}
TNEF_CASES = sorted(p.stem for p in TNEF.glob("*.tnef") if p.stem not in TNEF_DIVERGENT)


def _with_tnef(blob: bytes) -> bytes:
    message = EmailMessage()
    message["From"] = "sender@example.test"
    message["Subject"] = "tnef"
    message.set_content("see attached")
    message.add_attachment(blob, maintype="application", subtype="ms-tnef", filename="winmail.dat")
    return message.as_bytes()


@pytest.mark.parametrize("case", TNEF_CASES)
def test_mimekit_tnef_file_names(case: str) -> None:
    expected = [
        name
        for name in (TNEF / f"{case}.list").read_text(encoding="utf-8").splitlines()
        if name and name not in {"body.rtf", "body.html"}
    ]
    mail = parse_mail(_with_tnef((TNEF / f"{case}.tnef").read_bytes()))
    assert sorted(a.filename for a in mail.attachments) == sorted(expected)
    assert "winmail.dat" not in [a.filename for a in mail.attachments]


def test_mimekit_tnef_in_real_mail() -> None:
    # rich-text.eml carries christmas.tnef: the picture comes out with its name and type
    mail = _parse("mimekit/tnef/rich-text.eml")
    first = mail.attachments[0]
    assert (first.filename, first.content_type) == (
        "kitten-playing-with-a-christmas-tree.jpg",
        "image/jpeg",
    )
    assert first.data[:3] == b"\xff\xd8\xff"  # a JPEG, decoded out of the TNEF stream
    # ukr.eml: TNEF with only an RTF body: no attachments, the koi8-r text part is the body
    ukr = _parse("mimekit/tnef/ukr.eml")
    assert ukr.attachments == ()
    assert ukr.text


def test_mimekit_iso_2022_jp_subject() -> None:
    # MimeKit japanese.txt: ISO-2022-JP encoded-words split across two words
    mail = _parse("mimekit/messages/japanese.txt")
    assert mail.subject == "日本語メールテスト (testing Japanese emails)"
    assert mail.text.startswith("Let's see if both subject and body works fine")


def test_mimekit_stack_overflow_header_is_fast() -> None:
    # stack-overflow.txt: 135 KB To: header of encoded-words (policy.default needs ~1.1 s)
    started = time.perf_counter()
    mail = _parse("mimekit/messages/stack-overflow.txt")
    assert time.perf_counter() - started < 0.5
    assert mail.headers["to"]


def test_mimekit_reports() -> None:
    # delivery-status.txt / disposition-notification.txt / feedback-report.txt: report types
    for name, report in (
        ("delivery-status.txt", "delivery-status"),
        ("disposition-notification.txt", "disposition-notification"),
        ("feedback-report.txt", "feedback-report"),
    ):
        mail = _parse(f"mimekit/messages/{name}")
        assert (mail.content_type, mail.report_type) == ("multipart/report", report)


# --- SpamScope mail-parser tests/mails (commit 01c177fe) -------------------------------


def test_spamscope_outlook_msg_is_not_mime() -> None:
    # README: mail_outlook_1 is an OLE2 .msg, not MIME: a ParsedMail with defects, no crash
    mail = _parse("spamscope-mail-parser/mail_outlook_1")
    assert mail.sender is None and mail.message_id == ""
    assert mail.defects


@pytest.mark.parametrize("name", ["mail_malformed_1", "mail_malformed_2", "mail_malformed_3"])
def test_spamscope_malformed_mails_keep_their_subject(name: str) -> None:
    mail = _parse(f"spamscope-mail-parser/{name}")
    assert mail.subject
    assert mail.sender is not None
