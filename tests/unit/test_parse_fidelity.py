"""parse_mail reads real-world mail as people read it (issue 14's non-bounce classes).

Each mail here is written for one class of defect seen in third-party mail: encoded words with
blanks, raw 8-bit headers in legacy CJK charsets, raw 8-bit attachment names, broken header
blocks, inline parts inside multipart/mixed, unusable From headers, bare addresses after a name,
and damaged uuencode/base64 bodies. docs/decisions.md ("Parsing fidelity") says why each rule.
"""

import base64
import binascii
from pathlib import Path

import pytest

from postroom_converter.domain.parse import ParsedMail, parse_mail

# --- 1. encoded words whose payload holds literal blanks --------------------------------------


def _with_headers(headers: bytes, body: bytes = b"body\r\n") -> bytes:
    return headers + b"\r\n" + body


@pytest.mark.parametrize(
    ("headers", "subject", "name"),
    [
        (b"From: a@example.test\r\nSubject: =?us-ascii?Q?ABC / 123?=\r\n", "ABC / 123", ""),
        (
            b"From: =?utf-8?Q?Ren=C3=A9 M?= <rene@example.test>\r\n"
            b"Subject: Re: =?iso-8859-1?Q?Caf=E9 cr=E8me?= order =?utf-8?B?w6k=?=\r\n",
            "Re: Café crème order é",
            "René M",
        ),
    ],
)
def test_encoded_words_with_literal_blanks_are_decoded(
    headers: bytes, subject: str, name: str
) -> None:
    mail = parse_mail(_with_headers(headers + b"Content-Type: text/plain\r\n"))
    assert mail.subject == subject
    assert mail.sender is not None and mail.sender.name == name


# --- 2. raw 8-bit header bytes that are not UTF-8 ---------------------------------------------


def _raw_subject(subject: bytes, body_charset: str | None = None) -> bytes:
    ctype = b"Content-Type: text/plain"
    if body_charset:
        ctype += b"; charset=" + body_charset.encode()
    return _with_headers(b"From: a@example.test\r\nSubject: " + subject + b"\r\n" + ctype + b"\r\n")


@pytest.mark.parametrize(
    ("text", "charset"),
    [
        ("中文主题测试邮件", "gb2312"),
        ("关于下周会议的通知", "gbk"),
        ("繁體中文測試郵件", "big5"),
        ("会議の議事録について", "shift_jis"),
        ("会議の議事録について", "euc-jp"),
        ("견적서 요청드립니다", "euc-kr"),
    ],
)
def test_raw_8bit_subject_in_the_body_charset(text: str, charset: str) -> None:
    """The charset the body declares is tried before any guess."""
    mail = parse_mail(_raw_subject(text.encode(charset), charset))
    assert mail.subject == text


@pytest.mark.parametrize(
    ("text", "charset"),
    [
        ("中文主题测试邮件", "gb2312"),
        ("关于下周会议的通知", "gbk"),
        ("您好，请查收附件中的报价单", "gb2312"),
        ("繁體中文測試郵件", "big5"),
        ("請問這個產品還有庫存嗎", "big5"),
        ("会議の議事録について", "shift_jis"),
        ("お問い合わせありがとうございます", "shift_jis"),
        ("会議の議事録について", "euc-jp"),
        ("お見積りのご依頼", "euc-jp"),
        ("견적서 요청드립니다", "euc-kr"),
    ],
)
def test_raw_8bit_subject_without_any_declared_charset_is_detected(text: str, charset: str) -> None:
    mail = parse_mail(_raw_subject(text.encode(charset)))
    assert mail.subject == text


def test_raw_iso_2022_jp_subject() -> None:
    """ISO-2022-JP is 7-bit: escape sequences, not 8-bit bytes, mark it."""
    text = "会議の議事録について"
    mail = parse_mail(_raw_subject(text.encode("iso-2022-jp")))
    assert mail.subject == text


def test_raw_8bit_display_name_uses_the_charset_of_an_encoded_word_elsewhere() -> None:
    raw = _with_headers(
        b"From: " + "张伟".encode("gb2312") + b" <zhang@example.test>\r\n"
        b"Subject: =?gb2312?B?" + base64.b64encode("报价".encode("gb2312")) + b"?=\r\n"
    )
    mail = parse_mail(raw)
    assert mail.sender is not None and mail.sender.name == "张伟"
    assert mail.subject == "报价"


def test_raw_utf8_and_latin1_headers_stay_right() -> None:
    assert parse_mail(_raw_subject("Grüße aus Köln".encode())).subject == "Grüße aus Köln"
    latin = parse_mail(_raw_subject("Grüße aus Köln".encode("latin-1")))
    assert latin.subject == "Grüße aus Köln"
    declared = parse_mail(_raw_subject("Réunion à l'été".encode("cp1252"), "iso-8859-1"))
    assert declared.subject == "Réunion à l'été"


# --- 3. raw 8-bit bytes in attachment names ----------------------------------------------------


def _attachment_mail(name: bytes, body_charset: str = "us-ascii") -> bytes:
    return (
        b"From: a@example.test\r\nSubject: file\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=" + body_charset.encode() + b"\r\n\r\nsee\r\n"
        b'--b\r\nContent-Type: application/pdf; name="' + name + b'"\r\n'
        b'Content-Disposition: attachment; filename="' + name + b'"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n"
    )


def test_raw_utf8_attachment_name_is_kept() -> None:
    mail = parse_mail(_attachment_mail("résumé 履歴書.pdf".encode()))
    assert [a.filename for a in mail.attachments] == ["résumé 履歴書.pdf"]


@pytest.mark.parametrize(
    ("name", "charset"),
    [("報價單.pdf", "big5"), ("見積書.pdf", "shift_jis"), ("Übersicht.pdf", "iso-8859-1")],
)
def test_raw_legacy_attachment_name_uses_the_declared_charset(name: str, charset: str) -> None:
    mail = parse_mail(_attachment_mail(name.encode(charset), charset))
    assert [a.filename for a in mail.attachments] == [name]


def test_raw_legacy_attachment_name_without_a_declared_charset_is_detected() -> None:
    mail = parse_mail(_attachment_mail("报价单.pdf".encode("gb2312")))
    assert [a.filename for a in mail.attachments] == ["报价单.pdf"]


# --- 4. malformed header blocks ----------------------------------------------------------------


def test_junk_first_line_does_not_end_the_headers() -> None:
    raw = (
        b"---- Original email message ----\r\n"
        b"From: Jane Doe <jane@example.test>\r\nTo: support@example.test\r\n"
        b"Subject: Printer on fire\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"It really is.\r\n"
    )
    mail = parse_mail(raw)
    assert mail.sender is not None and mail.sender.address == "jane@example.test"
    assert mail.subject == "Printer on fire"
    assert mail.content_type == "text/plain"
    assert mail.text == "It really is."
    assert "junk line before the headers dropped" in mail.defects


def test_unindented_continuation_lines_are_joined() -> None:
    raw = (
        b"From: Jane Doe <jane@example.test>\r\n"
        b"Subject: A subject that a broken gateway\r\n"
        b"wrapped without indenting\r\n"
        b"To: support@example.test\r\n"
        b'Content-Type: multipart/alternative; boundary="xx"\r\n\r\n'
        b"--xx\r\nContent-Type: text/plain\r\n\r\nplain body\r\n--xx--\r\n"
    )
    mail = parse_mail(raw)
    assert mail.subject == "A subject that a broken gateway wrapped without indenting"
    assert mail.to and mail.to[0].address == "support@example.test"
    assert mail.content_type == "multipart/alternative"
    assert mail.text == "plain body"


def test_a_missing_blank_line_still_leaves_the_body_a_body() -> None:
    """No header after the first colon-less line: that line starts the body, as before."""
    raw = b"From: a@example.test\r\nSubject: hi\r\nThis is the body.\r\nSecond line.\r\n"
    mail = parse_mail(raw)
    assert mail.subject == "hi"
    assert "This is the body." in mail.text


def test_headerless_text_stays_a_body() -> None:
    mail = parse_mail(b"just some text\r\nwith: a colon later\r\n\r\nand more\r\n")
    assert mail.sender is None and "just some text" in mail.text


# --- 5. inline parts inside multipart/mixed ------------------------------------------------------


def _multipart(subtype: bytes, boundary: bytes, *parts: bytes) -> bytes:
    """A multipart entity (headers and body) of `parts` (each its own headers and body)."""
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    return (
        b"Content-Type: multipart/"
        + subtype
        + b'; boundary="'
        + boundary
        + b'"\r\n\r\n'
        + body
        + b"--"
        + boundary
        + b"--\r\n"
    )


def _leaf(ctype: bytes, body: bytes, name: bytes = b"") -> bytes:
    if not name:
        return b"Content-Type: " + ctype + b"\r\n\r\n" + body
    return (
        b"Content-Type: " + ctype + b"; name=" + name + b"\r\nContent-Disposition: inline; "
        b"filename=" + name + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body
    )


HEAD = b"From: a@example.test\r\nSubject: photo\r\nMIME-Version: 1.0\r\n"


def _apple_mixed() -> bytes:
    return HEAD + _multipart(
        b"mixed",
        b"m",
        _leaf(b"text/plain; charset=us-ascii", b"Here is the photo:"),
        _leaf(b"image/png", b"iVBORw0KGgo=", b"a.png"),
        _leaf(b"text/plain; charset=us-ascii", b"And the caption."),
        _leaf(b"text/html; charset=us-ascii", b"<p>A <b>late</b> note.</p>"),
    )


def test_inline_text_and_html_parts_are_merged_in_order() -> None:
    mail = parse_mail(_apple_mixed())
    assert mail.text == "Here is the photo:\n\nAnd the caption.\n\nA late note."
    assert [a.filename for a in mail.attachments] == ["a.png"]


def _apple_alternative() -> bytes:
    """Apple Mail's shape: the HTML side of the alternative is a mixed of html, image, html."""
    html_side = _multipart(
        b"mixed",
        b"m",
        _leaf(b"text/html", b"<html><body><p>Before.</p></body></html>"),
        _leaf(b"image/jpeg", b"/9j/4AAQ", b"b.jpg"),
        _leaf(b"text/html", b"<html><body><p>After.</p></body></html>"),
    )
    return HEAD + _multipart(
        b"alternative", b"a", _leaf(b"text/plain", b"Before.\r\n\r\nAfter."), html_side
    )


def test_a_second_html_part_is_not_dropped() -> None:
    mail = parse_mail(_apple_alternative())
    assert mail.text == "Before.\n\nAfter."
    assert mail.html is not None and "Before." in mail.html and "After." in mail.html


def test_html_only_mixed_parts_render_in_order() -> None:
    mail = parse_mail(
        HEAD
        + _multipart(
            b"mixed",
            b"m",
            _leaf(b"text/html", b"<p>one</p>"),
            _leaf(b"text/plain", b"two"),
            _leaf(b"text/html", b"<p>three &amp; four</p>"),
        )
    )
    assert mail.text == "one\n\ntwo\n\nthree & four"
    assert mail.html is not None
    assert mail.html.index("one") < mail.html.index("two") < mail.html.index("three")


# --- 6. no usable From --------------------------------------------------------------------------


def _sender(headers: bytes) -> tuple[str, str] | None:
    mail: ParsedMail = parse_mail(_with_headers(headers + b"Subject: s\r\n"))
    return (mail.sender.address, mail.sender.name) if mail.sender else None


def test_missing_from_falls_back_to_sender_then_reply_to_then_return_path() -> None:
    assert _sender(b"Sender: Desk <desk@example.test>\r\nReply-To: r@example.test\r\n") == (
        "desk@example.test",
        "Desk",
    )
    assert _sender(b"Reply-To: Rita <r@example.test>\r\nReturn-Path: <rp@example.test>\r\n") == (
        "r@example.test",
        "Rita",
    )
    assert _sender(b"Return-Path: <rp@example.test>\r\n") == ("rp@example.test", "")


def test_from_without_address_keeps_its_display_name() -> None:
    assert _sender(b'From: "Jane Doe" <>\r\nReply-To: <jane@example.test>\r\n') == (
        "jane@example.test",
        "Jane Doe",
    )
    assert _sender(
        b"From: MAILER-DAEMON (Mail Delivery System)\r\nSender: <postmaster@mx.example.test>\r\n"
    ) == ("postmaster@mx.example.test", "Mail Delivery System")


def test_no_address_anywhere_is_no_sender() -> None:
    assert _sender(b'From: "Jane" <>\r\nReturn-Path: <>\r\n') is None


# --- 7. a bare address after a name ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"Test test@example.com", ("test@example.com", "Test")),
        (b"Jane Q. Doe jane.doe@example.com", ("jane.doe@example.com", "Jane Q. Doe")),
        (b"test@example.com", ("test@example.com", "")),
        (b"Jane <jane@example.com>", ("jane@example.com", "Jane")),
    ],
)
def test_bare_address_after_a_name(value: bytes, expected: tuple[str, str]) -> None:
    assert _sender(b"From: " + value + b"\r\n") == expected


def test_bare_addresses_in_a_list() -> None:
    mail = parse_mail(
        _with_headers(b"From: a@example.test\r\nTo: Ann ann@x.test, Bob <bob@x.test>\r\n")
    )
    assert [(a.address, a.name) for a in mail.to] == [("ann@x.test", "Ann"), ("bob@x.test", "Bob")]


# --- 8. damaged uuencode and base64 bodies -------------------------------------------------------


def _single_part(cte: bytes, body: bytes, name: bytes = b"data.bin") -> bytes:
    return (
        b"From: a@example.test\r\nSubject: file\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        b"--b\r\nContent-Type: application/octet-stream; name=" + name + b"\r\n"
        b"Content-Disposition: attachment; filename=" + name + b"\r\n"
        b"Content-Transfer-Encoding: " + cte + b"\r\n\r\n" + body + b"\r\n--b--\r\n"
    )


DATA = bytes(range(256)) * 3


def _uu_lines(data: bytes) -> bytes:
    return b"".join(binascii.b2a_uu(data[i : i + 45]) for i in range(0, len(data), 45))


def test_uuencode_with_begin_line_decodes() -> None:
    body = b"begin 644 data.bin\r\n" + _uu_lines(DATA) + b"`\r\nend"
    mail = parse_mail(_single_part(b"x-uuencode", body))
    assert mail.attachments[0].data == DATA


def test_uuencode_without_begin_line_decodes() -> None:
    mail = parse_mail(_single_part(b"x-uuencode", _uu_lines(DATA) + b"`\r\nend"))
    assert mail.attachments[0].data == DATA
    bare = parse_mail(_single_part(b"uuencode", _uu_lines(DATA)))
    assert bare.attachments[0].data == DATA


def test_base64_one_character_past_a_quantum_decodes() -> None:
    encoded = base64.b64encode(DATA[:300])  # 400 characters
    mail = parse_mail(_single_part(b"base64", encoded + b"Q"))
    assert mail.attachments[0].data == DATA[:300]
    wrapped = b"\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76)) + b"\r\nQ"
    assert parse_mail(_single_part(b"base64", wrapped)).attachments[0].data == DATA[:300]


# --- found by `make fidelity` (bench/fidelity.py) against the shared corpus ----------------------


def test_content_type_without_subtype_text_is_plain_text() -> None:
    """CPython's msg_14: `Content-Type: text` is text/plain (RFC 2045 §5.2), a body, not a file."""
    mail = parse_mail(_with_headers(b"From: a@example.test\r\nContent-Type: text\r\n", b"Hi there"))
    assert mail.text == "Hi there"
    assert mail.attachments == ()


def test_mostly_utf8_header_with_a_broken_last_character() -> None:
    """flanker's mailformed-headers / russian-attachment-yahoo: UTF-8 cut inside a character."""
    name = "Юникод запрещен".encode() + b"\xd1"
    mail = parse_mail(_with_headers(b"From: " + name + b" <u@example.test>\r\n"))
    assert mail.sender is not None and mail.sender.name == "Юникод запрещен\ufffd"
    cut = "Картинка с очень длинным именем.png".encode()[:-5]
    attached = parse_mail(_attachment_mail(cut))
    assert attached.attachments[0].filename == "Картинка с очень длинным имене\ufffd"


def test_encoded_word_without_a_charset() -> None:
    """mime-tools' infinite.msg: `=??Q?...?=` (the charset left out) is still decoded."""
    mail = parse_mail(
        _with_headers(b"From: a@example.test\r\nSubject: [l] =??Q?Re=3A_Bras=EDlia?=\r\n")
    )
    assert mail.subject == "[l] Re: Brasília"


def test_obsolete_space_before_the_header_colon() -> None:
    """mime4j's obsolete.msg: RFC 5322 §4.5.3 allows white space before the colon."""
    raw = b"Subject :The obsolete syntax\r\nFrom  : a@example.test\r\nTo: b@x.test\r\n\r\nbody\r\n"
    mail = parse_mail(raw)
    assert mail.subject == "The obsolete syntax"
    assert mail.sender is not None and mail.sender.address == "a@example.test"
    assert mail.text == "body"


def test_quoted_comment_name_is_unquoted() -> None:
    """sisimai's lhost-interscanmss-02: `addr ("Name")` names Name, without the quotes."""
    assert _sender(b'From: postmaster@nnn.example.jp ("InterScan Notification")\r\n') == (
        "postmaster@nnn.example.jp",
        "InterScan Notification",
    )


# --- the same classes in third-party mail (tests/fixtures/mail, licences in its README.md) -------

MAIL = Path(__file__).parent.parent / "fixtures" / "mail"


@pytest.mark.parametrize(
    ("relative", "field", "expected"),
    [
        # junk lines before the header block (email_reply_parser's test mail)
        ("email_reply_parser-github/email_2_2.txt", "sender", "crm-comment@example.com"),
        ("email_reply_parser-github/email_2_2.txt", "subject", "[contact:106] John Greene"),
        # unindented continuation lines in an Exchange header (MimeKit issue 358)
        ("mimekit/messages/issue358.txt", "text", "Test headers"),
        # RFC 5322 obsolete syntax: white space before the colon (mime4j)
        ("james-mime4j/testmsgs/obsolete.msg", "subject", "The obsolete syntax allow spaces"),
        # `Content-Type: text` without a subtype (CPython's msg_14)
        ("cpython-test_email/msg_14.txt", "text", "Hi,\n\nI'm sorry but I'm using a"),
        # From without an @, Return-Path instead (sisimai), display name kept
        ("sisimai/lhost-sendmail-56.eml", "sender", "mailer-daemon@neko.nyaan.jp"),
        ("sisimai/lhost-sendmail-56.eml", "name", "Mail Delivery Subsystem"),
        ("sisimai/lhost-interscanmss-02.eml", "name", "InterScan Notification"),
        # raw UTF-8 file name cut inside its last character (flanker)
        ("flanker/russian-attachment-yahoo.eml", "attachment", "Картинка с очень, очень длинным"),
    ],
)
def test_third_party_mail(relative: str, field: str, expected: str) -> None:
    mail = parse_mail((MAIL / relative).read_bytes())
    values = {
        "sender": mail.sender.address if mail.sender else "",
        "name": mail.sender.name if mail.sender else "",
        "subject": mail.subject,
        "text": mail.text,
        "attachment": " | ".join(a.filename for a in mail.attachments),
    }
    assert values[field].startswith(expected), values[field][:200]
